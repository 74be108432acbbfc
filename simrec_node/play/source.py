"""Streamed reading of an MCAP log: channels, messages from a time on, and look-back after a seek.

Indexed files are read through the chunk index (``SeekingReader``): only the chunks a time range
needs are read and decompressed, so memory stays flat whatever the file size. Files without a
summary (a recorder that crashed) are read front to back, playing what can be read; the first
record that cannot be read ends that file's stream and is reported in ``read_error``.

A split log (a directory of ``<name>_<N>.mcap`` files, or several files) is one timeline: its
files are read one after the other (merged by time where their ranges overlap), and each file's
channels are mapped onto the log's channels, one per recorded topic and type.
"""

from __future__ import annotations

import heapq
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mcap.reader import SeekingReader
from mcap.records import Channel, Chunk, Message, Schema
from mcap.stream_reader import StreamReader, breakup_chunk

from simrec_node.info import LogFileError, LogSpec, LogSummary, open_log_set
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
    """An opened log (one file or a split set): its time range and the channels selected for
    playback.

    Raises `LogFileError` for paths that are not MCAP logs or cannot be read at all, and
    `PlayError` when no channel passes ``selected``.
    """

    def __init__(
        self,
        log: LogSpec,
        selected: TopicFilter = lambda _topic: True,
        remap: Callable[[str], str] = lambda topic: topic,
    ) -> None:
        logset = open_log_set(log)
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
        self._parts: list[_FilePart] = []
        by_key: dict[tuple, ChannelInfo] = {}
        all_topics: set[str] = set()
        for path, file_summary in zip(logset.files, logset.summaries, strict=True):
            local: dict[int, ChannelInfo] = {}
            for cid, (channel, schema) in _read_channels(path, file_summary.indexed).items():
                all_topics.add(channel.topic)
                if not selected(channel.topic):
                    continue
                info = ChannelInfo(
                    id=cid if cid not in self.channels else max(self.channels) + 1,
                    recorded_topic=channel.topic,
                    topic=remap(channel.topic),
                    schema_name=schema.name if schema else "",
                    schema_encoding=schema.encoding if schema else "",
                    schema_data=bytes(schema.data) if schema else b"",
                    message_encoding=channel.message_encoding,
                )
                key = (info.recorded_topic, info.schema_name, info.schema_encoding, info.schema_data)
                key += (info.message_encoding,)
                if key not in by_key:
                    by_key[key] = self.channels[info.id] = info
                local[cid] = by_key[key]
            self._parts.append(_FilePart(path, file_summary, local, label=logset.is_set))
        if not self.channels:
            raise PlayError(
                f"no topic of {self.path} matches the topic selection; "
                f"the log has: {', '.join(sorted(all_topics)) or 'no topics'}"
            )
        self._timed = [part for part in self._parts if part.start_ns is not None and part.local]
        self._lookback_lock = threading.Lock()

    @property
    def topics(self) -> list[str]:
        return sorted({c.topic for c in self.channels.values()})

    @property
    def read_error(self) -> str | None:
        """What could not be read during playback (None when everything was)."""
        errors = [part.read_error for part in self._parts if part.read_error]
        return "; ".join(errors) if errors else None

    def close(self) -> None:
        for part in self._parts:
            part.close()

    def messages(self, start_ns: int, end_ns: int | None = None) -> Iterator[Item]:
        """Messages with ``start_ns <= log_time <= end_ns`` in log-time order, read lazily.

        Files are read one after the other; files whose time ranges overlap are merged by time.
        """
        stop = None if end_ns is None else end_ns + 1
        for group in _overlapping_groups(self._timed):
            if group[-1].end_ns < start_ns or (stop is not None and group[0].start_ns >= stop):
                continue
            streams = [part.messages(start_ns, stop) for part in group]
            try:
                if len(streams) == 1:
                    yield from streams[0]
                else:
                    yield from heapq.merge(*streams, key=lambda item: item.log_time)
            finally:
                for stream in streams:
                    stream.close()

    def latest_at(self, time_ns: int, lookback_ns: int = DEFAULT_LOOKBACK_NS) -> list[Item]:
        """The newest message of each selected channel with ``log_time <= time_ns``.

        Reads backwards from the chunk holding ``time_ns`` (through earlier files of a split log
        as needed) and stops once every channel has one, or ``lookback_ns`` of log time has been
        searched: topics silent that long get nothing.
        """
        floor = max(self.start_ns, time_ns - lookback_ns)
        found: dict[int, Item] = {}
        candidates = [p for p in self._timed if p.start_ns <= time_ns and p.end_ns >= floor]
        with self._lookback_lock:
            for part in sorted(candidates, key=lambda p: p.end_ns, reverse=True):
                if len(found) == len(self.channels) and min(i.log_time for i in found.values()) >= min(
                    part.end_ns, time_ns
                ):
                    break  # every channel has a message newer than anything this file holds
                for cid, item in part.latest_at(floor, time_ns).items():
                    if cid not in found or item.log_time > found[cid].log_time:
                        found[cid] = item
        return sorted(found.values(), key=lambda item: item.log_time)


def _overlapping_groups(parts: list[_FilePart]) -> list[list[_FilePart]]:
    """Files by start time, grouped where their time ranges overlap (a group is read merged)."""
    groups: list[list[_FilePart]] = []
    group_end = 0
    for part in sorted(parts, key=lambda p: p.start_ns):
        if groups and part.start_ns < group_end:
            groups[-1].append(part)
            group_end = max(group_end, part.end_ns)
        else:
            groups.append([part])
            group_end = part.end_ns
    return groups


class _FilePart:
    """One file of the log; ``local`` maps its channel ids to the log's selected channels."""

    def __init__(
        self, path: Path, summary: LogSummary, local: dict[int, ChannelInfo], *, label: bool
    ) -> None:
        self.path = os.fspath(path)
        self.indexed = summary.indexed
        self.start_ns = summary.start_ns
        self.end_ns = summary.end_ns if summary.end_ns is not None else 0
        self.local = local
        self.read_error: str | None = None
        self._label = f"{os.path.basename(self.path)}: " if label else ""
        self._lookback_file: BinaryIO | None = None
        self._lookback_reader: SeekingReader | None = None

    def close(self) -> None:
        if self._lookback_file is not None:
            self._lookback_file.close()
            self._lookback_file = self._lookback_reader = None

    def messages(self, start_ns: int, stop: int | None) -> Iterator[Item]:
        """This file's messages with ``start_ns <= log_time < stop``, in log-time order."""
        with open(self.path, "rb") as f:
            if not self.indexed:
                yield from self._stream_messages(f, start_ns, stop)
                return
            reader = SeekingReader(f)
            topics = list({c.recorded_topic for c in self.local.values()})
            try:
                for _schema, channel, message in reader.iter_messages(
                    topics=topics, starting_at=start_ns, ending_before=stop, log_time_order=True
                ):
                    info = self.local.get(channel.id)
                    if info is not None:
                        yield Item(
                            info, message.log_time, message.publish_time, message.sequence, message.data
                        )
            except DECODE_ERRORS as exc:
                self.read_error = f"a chunk of {self.path} cannot be read: {describe_error(exc)}"

    def latest_at(self, floor: int, time_ns: int) -> dict[int, Item]:
        """The newest message of each channel with ``floor <= log_time <= time_ns``, by log channel id."""
        found: dict[int, Item] = {}
        if not self.indexed:
            with open(self.path, "rb") as f:
                for item in self._stream_messages(f, floor, time_ns + 1, report=False):
                    found[item.channel.id] = item
            return found
        if self._lookback_reader is None:
            self._lookback_file = open(self.path, "rb")  # noqa: SIM115 - closed in close()
            self._lookback_reader = SeekingReader(self._lookback_file)
        wanted = len({info.id for info in self.local.values()})
        topics = list({c.recorded_topic for c in self.local.values()})
        for _schema, channel, message in self._lookback_reader.iter_messages(
            topics=topics, starting_at=floor, ending_before=time_ns + 1, reverse=True
        ):
            info = self.local.get(channel.id)
            if info is not None and info.id not in found:
                found[info.id] = Item(
                    info, message.log_time, message.publish_time, message.sequence, message.data
                )
                if len(found) == wanted:
                    break
        return found

    def _records(self, f: BinaryIO, *, report: bool = True) -> Iterator[object]:
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
                self.read_error = (
                    f"{self._label}stopped reading after byte {good_end} of {size}: {describe_error(exc)}"
                )

    def _stream_messages(
        self, f: BinaryIO, start_ns: int, stop: int | None, *, report: bool = True
    ) -> Iterator[Item]:
        for record in self._records(f, report=report):
            if not isinstance(record, Message) or record.log_time < start_ns:
                continue
            if stop is not None and record.log_time >= stop:
                continue
            info = self.local.get(record.channel_id)
            if info is not None:
                yield Item(info, record.log_time, record.publish_time, record.sequence, record.data)


def _read_channels(path: Path, indexed: bool) -> dict[int, tuple[Channel, Schema | None]]:
    """A file's channels with their schemas: from the summary, or by reading what can be read."""
    with open(path, "rb") as f:
        if indexed:
            summary = SeekingReader(f).get_summary()
            if summary is not None:
                return {
                    cid: (channel, summary.schemas.get(channel.schema_id))
                    for cid, channel in summary.channels.items()
                }
        f.seek(0)
        size = os.fstat(f.fileno()).st_size
        found: dict[int, tuple[Channel, Schema | None]] = {}
        schemas: dict[int, Schema] = {}
        try:
            for record in StreamReader(f, emit_chunks=True, record_size_limit=max(size, 1)).records:
                for inner in (
                    breakup_chunk(record, validate_crc=True) if isinstance(record, Chunk) else [record]
                ):
                    if isinstance(inner, Schema):
                        schemas[inner.id] = inner
                    elif isinstance(inner, Channel) and inner.id not in found:
                        found[inner.id] = (inner, schemas.get(inner.schema_id))
        except DECODE_ERRORS:
            pass  # what was read is what can be played; messages() reports where reading stopped
        return found
