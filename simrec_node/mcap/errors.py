"""The format package's own error: a path that is not a readable MCAP file."""

from __future__ import annotations

from simrec_node.errors import SimrecError


class McapFileError(SimrecError):
    """A missing, empty, special (pipe, device, directory) or non-MCAP file: one line for the user."""
