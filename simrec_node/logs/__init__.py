"""The one log reader: a file, several files or a split directory as one log (see `Log`).

Stands on the format primitives of ``simrec_node.mcap``; ``info``, ``play`` and ``convert`` read
logs only through it, with one damage policy (go on past a bad chunk, count it, say where).
"""

from .batches import Batch
from .errors import LogFileError
from .file import LogFile
from .files import LogSpec
from .log import ALL_TIME, Log
from .model import Channel, Message
from .recordings import each_recording, recordings, same_recording

__all__ = [
    "ALL_TIME",
    "Batch",
    "Channel",
    "Log",
    "LogFile",
    "LogFileError",
    "LogSpec",
    "Message",
    "each_recording",
    "recordings",
    "same_recording",
]
