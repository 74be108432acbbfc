"""Streamed reading of an MCAP log: channels, messages from a time on, and look-back after a seek.

Indexed files are read through the chunk index (``SeekingReader``): only the chunks a time range
needs are read and decompressed, so memory stays flat whatever the file size. Files without a
summary (a recorder that crashed) are read front to back, playing what can be read; the first
record that cannot be read ends the stream and is reported in ``read_error``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mcap.reader import SeekingReader
from mcap.records import Channel, Chunk, Message, Schema
from mcap.stream_reader import StreamReader, breakup_chunk

from simrec_node.info import LogFileError, summarize
from simrec_node.info.facts import DECODE_ERRORS, describe_error

from .errors import PlayError

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


@dataclass(slots=True)
class Item:
    """One recorded message, payload untouched."""

    channel: ChannelInfo
    log_time: int
    publish_time: int
    sequence: int
    data: bytes


TopicFilter = Callable[[str], bool]


class LogSource:
    """An opened log: its time range and the channels selected for playback.

    Raises `LogFileError` for files that are not MCAP or cannot be read at all, and `PlayError`
    when no channel passes ``selected``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        selected: TopicFilter = lambda _topic: True,
        remap: Callable[[str], str] = lambda topic: topic,
    ) -> None:
        self.path = os.fspath(path)
        summary = summarize(self.path)
        self.indexed = summary.indexed
        self.warnings = list(summary.warnings)
        self.message_count = summary.message_count
        self.read_error: str | None = None
        if summary.start_ns is None or summary.end_ns is None:
            raise LogFileError(f"{self.path} holds no messages; nothing to play")
        self.start_ns: int = summary.start_ns
        self.end_ns: int = summary.end_ns
        records = self._read_channels()
        all_topics = sorted({channel.topic for channel, _ in records.values()})
        self.channels: dict[int, ChannelInfo] = {}
        for cid, (channel, schema) in records.items():
            if not selected(channel.topic):
                continue
            self.channels[cid] = ChannelInfo(
                id=cid,
                recorded_topic=channel.topic,
                topic=remap(channel.topic),
                schema_name=schema.name if schema else "",
                schema_encoding=schema.encoding if schema else "",
                schema_data=bytes(schema.data) if schema else b"",
                message_encoding=channel.message_encoding,
            )
        if not self.channels:
            raise PlayError(
                f"no topic of {self.path} matches the topic selection; "
                f"the log has: {', '.join(all_topics) or 'no topics'}"
            )
        self._lookback_lock = threading.Lock()
        self._lookback_file = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        self._lookback_reader = SeekingReader(self._lookback_file) if self.indexed else None

    @property
    def topics(self) -> list[str]:
        return sorted({c.topic for c in self.channels.values()})

    def close(self) -> None:
        self._lookback_file.close()

    def messages(self, start_ns: int, end_ns: int | None = None) -> Iterator[Item]:
        """Messages with ``start_ns <= log_time <= end_ns`` in log-time order, read lazily."""
        stop = None if end_ns is None else end_ns + 1
        with open(self.path, "rb") as f:
            if self.indexed:
                reader = SeekingReader(f)
                topics = [c.recorded_topic for c in self.channels.values()]
                try:
                    for _schema, channel, message in reader.iter_messages(
                        topics=topics, start_time=start_ns, end_time=stop, log_time_order=True
                    ):
                        info = self.channels.get(channel.id)
                        if info is not None:
                            yield Item(
                                info, message.log_time, message.publish_time, message.sequence, message.data
                            )
                except DECODE_ERRORS as exc:
                    self.read_error = f"a chunk of {self.path} cannot be read: {describe_error(exc)}"
            else:
                yield from self._stream_messages(f, start_ns, stop)

    def latest_at(self, time_ns: int, lookback_ns: int = DEFAULT_LOOKBACK_NS) -> list[Item]:
        """The newest message of each selected channel with ``log_time <= time_ns``.

        Reads backwards from the chunk holding ``time_ns`` and stops once every channel has one,
        or ``lookback_ns`` of log time has been searched: topics silent that long get nothing.
        """
        floor = max(self.start_ns, time_ns - lookback_ns)
        found: dict[int, Item] = {}
        with self._lookback_lock:
            if self._lookback_reader is not None:
                topics = [c.recorded_topic for c in self.channels.values()]
                for _schema, channel, message in self._lookback_reader.iter_messages(
                    topics=topics, start_time=floor, end_time=time_ns + 1, reverse=True
                ):
                    info = self.channels.get(channel.id)
                    if info is not None and channel.id not in found:
                        found[channel.id] = Item(
                            info, message.log_time, message.publish_time, message.sequence, message.data
                        )
                        if len(found) == len(self.channels):
                            break
            else:
                with open(self.path, "rb") as f:
                    for item in self._stream_messages(f, floor, time_ns + 1, report=False):
                        found[item.channel.id] = item
        return sorted(found.values(), key=lambda item: item.log_time)

    def _read_channels(self) -> dict[int, tuple[Channel, Schema | None]]:
        with open(self.path, "rb") as f:
            if self.indexed:
                summary = SeekingReader(f).get_summary()
                if summary is not None:
                    return {
                        cid: (channel, summary.schemas.get(channel.schema_id))
                        for cid, channel in summary.channels.items()
                    }
            found: dict[int, tuple[Channel, Schema | None]] = {}
            schemas: dict[int, Schema] = {}
            for record in self._records(f, report=False):
                if isinstance(record, Schema):
                    schemas[record.id] = record
                elif isinstance(record, Channel) and record.id not in found:
                    found[record.id] = (record, schemas.get(record.schema_id))
            return found

    def _records(self, f, *, report: bool = True) -> Iterator[object]:
        """Records front to back (chunks opened), stopping quietly at the first unreadable one."""
        size = os.fstat(f.fileno()).st_size
        reader = StreamReader(f, emit_chunks=True, record_size_limit=max(size, 1))
        good_end = 0
        try:
            for record in reader.records:
                good_end = f.tell()
                if isinstance(record, Chunk):
                    yield from breakup_chunk(record, validate_crc=True)
                else:
                    yield record
        except DECODE_ERRORS as exc:
            if report:
                self.read_error = f"stopped reading after byte {good_end} of {size}: {describe_error(exc)}"

    def _stream_messages(self, f, start_ns: int, stop: int | None, *, report: bool = True) -> Iterator[Item]:
        for record in self._records(f, report=report):
            if not isinstance(record, Message) or record.log_time < start_ns:
                continue
            if stop is not None and record.log_time >= stop:
                continue
            info = self.channels.get(record.channel_id)
            if info is not None:
                yield Item(info, record.log_time, record.publish_time, record.sequence, record.data)
