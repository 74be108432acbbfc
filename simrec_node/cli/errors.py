"""Turning user mistakes into one line and an exit code, never a traceback."""

from __future__ import annotations

from simrec_node.errors import SimrecError


class UsageError(SimrecError):
    """A command-line mistake the user can fix; printed as ``simrec: error: ...``."""
