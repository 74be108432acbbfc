"""Raw facts gathered from an MCAP file, shared by the indexed reader and the fallback scan.

Both readers fill the same structure so that turning facts into a `LogSummary` (and the
recorder-contract parsing of metadata) lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ChannelFacts:
    """One MCAP channel and what was counted on it."""

    topic: str
    type_name: str
    message_encoding: str
    count: int = 0
    first_time_ns: int | None = None
    last_time_ns: int | None = None
    # publish_time of the first and the last message (by log time).
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
