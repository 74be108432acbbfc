"""Raw facts gathered from an MCAP file, shared by the indexed reader and the fallback scan.

Both readers fill the same structure so that turning facts into a `LogSummary` (and the
recorder-contract parsing of metadata) lives in one place.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from mcap.exceptions import McapError

try:  # optional codecs: only needed to name their errors
    from zstandard import ZstdError
except ImportError:  # pragma: no cover - zstandard is a hard dependency of simrec
    ZstdError = McapError  # type: ignore[assignment,misc]

# Metadata record names written by the recorder (see simrec_node recorder contract).
RECORDING_META = "simrec.recording"
USER_META = "simrec.meta"
TOPIC_STATS_META = "simrec.topic_stats"
KNOWN_META = frozenset({RECORDING_META, USER_META, TOPIC_STATS_META})

MCAP_MAGIC = b"\x89MCAP0\r\n"

# What a damaged or truncated file can make the mcap library (or its codecs) raise. lz4 reports
# bad frames as RuntimeError; CRC mismatches are ValueErrors.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    McapError,
    EOFError,
    struct.error,
    ValueError,
    KeyError,
    IndexError,
    OverflowError,
    MemoryError,
    RuntimeError,
    ZstdError,
)


def describe_error(exc: BaseException) -> str:
    """Short reason for a decode failure; the mcap library raises some errors with no message."""
    text = str(exc).strip()
    name = type(exc).__name__
    if name == "EndOfFile":
        return "unexpected end of file"
    if isinstance(exc, struct.error):  # a short read at a truncated tail
        return f"truncated or malformed record ({text})"
    return f"{name}: {text}" if text else name


@dataclass
class ChannelFacts:
    """One MCAP channel and what was counted on it."""

    topic: str
    type_name: str
    message_encoding: str
    count: int = 0
    first_time_ns: int | None = None
    last_time_ns: int | None = None
    # publish_time of the first and the last message (by log time), where read (indexed files).
    first_publish_ns: int | None = None
    last_publish_ns: int | None = None


@dataclass
class LogFacts:
    """Everything either reader found; converted to a LogSummary by `summary.build_summary`."""

    library: str = ""
    profile: str = ""
    indexed: bool = True
    message_count: int = 0
    start_ns: int | None = None
    end_ns: int | None = None
    chunk_count: int = 0
    compression: set[str] = field(default_factory=set)
    channels: dict[int, ChannelFacts] = field(default_factory=dict)
    # (name, key/values) in file order; later records override earlier keys of the same name.
    metadata: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
