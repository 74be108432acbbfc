"""The repair package's own error: a user mistake, printed by the CLI as one line."""

from __future__ import annotations

from simrec_node.errors import SimrecError


class RepairError(SimrecError):
    """Bad input for ``recover`` / ``doctor``: missing, empty or non-MCAP file, bad output path."""
