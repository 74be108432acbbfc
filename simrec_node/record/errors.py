"""The recorder's own error: a request that does not apply to this recording."""

from simrec_node.errors import SimrecError


class RecordError(SimrecError):
    """A control request the recording cannot honour (split a single file, snapshot when not in
    snapshot mode, ...); the message is one line for the user."""
