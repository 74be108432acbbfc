"""Code generated from schemas/simrec by simrec_node.msgs.regenerate."""
