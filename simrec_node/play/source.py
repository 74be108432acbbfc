"""The log being played: its time range, the channels selected (and where each is played), and
its messages from a time on, through the one log reader (``simrec_node.logs``).

Only the chunks a time range needs are read and decompressed, so memory stays flat whatever
the file size; a damaged chunk is skipped and said in ``read_error`` (the reader's damage
policy), and playback goes on. A split log (a directory of ``<name>_<N>.mcap`` files, or several
files) is one timeline: its files are read one after the other (merged by time where their
ranges overlap), each file's channels mapped onto the log's channels.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from simrec_node.info import LogFileError, LogSpec, describe
from simrec_node.logs import Log
from simrec_node.logs import Message as Item

from .errors import PlayError

__all__ = ["DEFAULT_LOOKBACK_NS", "ChannelInfo", "Item", "LogSource", "TopicFilter"]

# How far back (log time) a seek looks for the latest message of each topic.
DEFAULT_LOOKBACK_NS = 30_000_000_000


@dataclass(frozen=True)
class ChannelInfo:
    """One recorded channel: where it is played (``topic``, after remapping) and its schema."""

    id: int
    recorded_topic: str
    topic: str
    schema_name: str
    schema_encoding: str
    schema_data: bytes
    message_encoding: str


TopicFilter = Callable[[str], bool]


class LogSource:
    """An opened log (one file or a split set): its time range and the channels selected for
    playback (``channels``, by the log's channel id).

    Raises `LogFileError` for paths that are not MCAP logs or cannot be read at all, and
    `PlayError` when no channel passes ``selected``.
    """

    def __init__(
        self,
        log: LogSpec,
        selected: TopicFilter = lambda _topic: True,
        remap: Callable[[str], str] = lambda topic: topic,
    ) -> None:
        self._log = Log(log)
        try:
            self._setup(selected, remap)
        except BaseException:
            self._log.close()
            raise
        self._lookback_lock = threading.Lock()

    def _setup(self, selected: TopicFilter, remap: Callable[[str], str]) -> None:
        logset = describe(self._log)
        summary = logset.summary
        self.path = logset.name
        self.files = list(logset.files)
        self.indexed = summary.indexed
        self.warnings = list(summary.warnings)
        self.message_count = summary.message_count
        if summary.start_ns is None or summary.end_ns is None:
            raise LogFileError(f"{self.path} holds no messages; nothing to play")
        self.start_ns: int = summary.start_ns
        self.end_ns: int = summary.end_ns
        self.channels: dict[int, ChannelInfo] = {}
        all_topics = sorted({c.topic for c in self._log.channels.values()})
        self._selected = [c for c in self._log.channels.values() if selected(c.topic)]
        for c in self._selected:
            self.channels[c.id] = ChannelInfo(
                id=c.id,
                recorded_topic=c.topic,
                topic=remap(c.topic),
                schema_name=c.schema_name,
                schema_encoding=c.schema_encoding,
                schema_data=c.schema_data,
                message_encoding=c.message_encoding,
            )
        if not self.channels:
            raise PlayError(
                f"no topic of {self.path} matches the topic selection; "
                f"the log has: {', '.join(all_topics) or 'no topics'}"
            )

    @property
    def topics(self) -> list[str]:
        return sorted({c.topic for c in self.channels.values()})

    @property
    def read_error(self) -> str | None:
        """What could not be read during playback (None when everything was)."""
        return "; ".join(self._log.skipped) if self._log.skipped else None

    def close(self) -> None:
        self._log.close()

    def messages(self, start_ns: int, end_ns: int | None = None) -> Iterator[Item]:
        """Messages with ``start_ns <= log_time <= end_ns`` in log-time order, read lazily."""
        hi = (1 << 64) - 1 if end_ns is None else end_ns
        for item in self._log.messages(self._selected, start_ns, hi):
            item.data = bytes(item.data)  # published as bytes, and held past its chunk
            yield item

    def latest_at(self, time_ns: int, lookback_ns: int = DEFAULT_LOOKBACK_NS) -> list[Item]:
        """The newest message of each selected channel with ``log_time <= time_ns``.

        Reads backwards from the chunk holding ``time_ns`` (through earlier files of a split log
        as needed) and stops once every channel has one, or ``lookback_ns`` of log time has been
        searched: topics silent that long get nothing.
        """
        floor = max(self.start_ns, time_ns - lookback_ns)
        with self._lookback_lock:
            found = self._log.latest(self._selected, floor, time_ns)
        for item in found.values():
            item.data = bytes(item.data)
        return sorted(found.values(), key=lambda item: item.log_time)
