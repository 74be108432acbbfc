"""The convert part's own error: a user mistake the CLI prints as one line."""

from __future__ import annotations

from simrec_node.errors import SimrecError


class ConvertError(SimrecError):
    """Bad input or output for a conversion (unknown topic, not an image topic, output exists...).

    The message is one line: what is wrong, where, and what to do.
    """
