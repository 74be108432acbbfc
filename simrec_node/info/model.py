"""Data model for `simrec info`: plain frozen dataclasses so the CLI can render or serialize them."""

from __future__ import annotations

from dataclasses import dataclass, field

from simrec_node.logs import LogFileError

__all__ = ["EpisodeSummary", "FileEntry", "LogFileError", "LogSummary", "TopicSummary"]


@dataclass
class TopicSummary:
    """Per-topic counts. Times are log times in ns; ``None`` when the topic has no messages."""

    topic: str
    type_name: str
    message_encoding: str
    count: int
    frequency_hz: float | None
    first_time_ns: int | None
    last_time_ns: int | None
    dropped: int = 0
    dropped_detail: dict[str, int] = field(default_factory=dict)
    # Where the messages carry sim time (a publish_time set by the publisher, not a wall clock
    # near the recorder's): the first and last sim time and the rate over it. An in-process or
    # Gymnasium log is written in bursts, so its rate over log time says little about the run.
    sim_first_ns: int | None = None
    sim_last_ns: int | None = None
    sim_frequency_hz: float | None = None


@dataclass
class EpisodeSummary:
    """What the ``/episodes`` channel says: how many episodes, their returns and outcomes."""

    count: int
    envs: int
    return_mean: float
    return_min: float
    return_max: float
    length_mean: float
    success_rate: float | None  # over the episodes that say whether they succeeded
    terminated: int
    truncated: int


@dataclass
class FileEntry:
    """One file of a split log, as `simrec info` lists it."""

    path: str
    size_bytes: int
    message_count: int
    start_ns: int | None
    end_ns: int | None
    indexed: bool


@dataclass
class LogSummary:
    """Everything `simrec info` shows about one MCAP file.

    ``indexed`` is True when counts come from the file's summary section (cheap, exact); False
    when they come from a scan of the data section (file not closed cleanly). ``start_ns`` and
    ``end_ns`` are ``None`` when the file holds no messages. ``files`` lists the files of a split
    log (a directory or several files summarized as one); it is empty for a single file.
    """

    path: str
    size_bytes: int
    start_ns: int | None
    end_ns: int | None
    duration_s: float
    message_count: int
    compression: set[str]
    chunk_count: int
    topics: list[TopicSummary]
    recording: dict[str, str]
    user_meta: dict[str, str]
    library: str
    profile: str
    indexed: bool
    warnings: list[str] = field(default_factory=list)
    episodes: EpisodeSummary | None = None
    files: list[FileEntry] = field(default_factory=list)
    clips: list[dict[str, str]] = field(default_factory=list)  # the simrec.clip records, in order
