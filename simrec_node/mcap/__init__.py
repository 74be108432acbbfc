"""The MCAP format, once: record layouts and opcodes, the writer, chunk compression, CRCs.

Every other part of simrec reads and writes MCAP bytes through this package; it imports no
feature package.
"""

from .writer import CHUNK_SIZE, MAGIC, McapWriter

__all__ = ["CHUNK_SIZE", "MAGIC", "McapWriter"]
