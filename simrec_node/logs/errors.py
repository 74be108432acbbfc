"""The log reader's error: a path that is not a readable log, said in one line."""

from __future__ import annotations

from simrec_node.mcap.errors import McapFileError


class LogFileError(McapFileError):
    """One-line, user-facing: what is wrong with which file and what to do.

    The CLI prints ``str(err)`` and exits non-zero; it never needs a traceback.
    """
