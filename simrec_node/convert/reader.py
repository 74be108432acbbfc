"""Open an MCAP log and stream its messages, decoded, in the order they were written.

A log is one file, a directory of split files (``run/run_0.mcap``, ...) or several files; the
files of a split log are read one after the other as one stream.

The reader streams the file front to back with mcap's ``StreamReader`` on a background thread
(``prefetch``; it needs no footer, so files a crashed recorder left behind read up to their last
complete record) and unpacks chunk records itself: one ``struct`` call per message and a
zero-copy view of the payload, skipping chunks outside the time window. What cannot be read
(a corrupt chunk, a truncated tail, a message that does not decode) is counted in
``problems`` rather than raised.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcap.records import Channel, Message, Schema

from simrec_node.info import LogSpec, LogSummary, open_log_set

from .decoders import Decoder, decoder_for
from .errors import ConvertError
from .prefetch import records
from .seek import SeekPlan, plan_seek

__all__ = ["LogReader", "RawRecord", "TopicInfo", "open_log"]

IMAGE_TYPES = ("foxglove.CompressedImage", "foxglove.RawImage")

_PREFIX = struct.Struct("<BQ")
_MESSAGE = struct.Struct("<HIQQ")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_OP_SCHEMA, _OP_CHANNEL, _OP_MESSAGE = 0x03, 0x04, 0x05
_UNSET = object()


@dataclass(frozen=True)
class TopicInfo:
    """A topic's message type and how many messages the log holds for it."""

    type_name: str
    count: int


@dataclass(frozen=True, slots=True)
class _Channel:
    topic: str
    schema_name: str
    schema_encoding: str
    schema_data: bytes
    message_encoding: str


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One message as stored: bytes not decoded (``data`` may be a view of a chunk buffer)."""

    topic: str
    type_name: str
    log_time: int
    publish_time: int
    sequence: int
    data: Any


def _string(buf: memoryview, pos: int) -> tuple[str, int]:
    (length,) = _U32.unpack_from(buf, pos)
    pos += 4
    return bytes(buf[pos : pos + length]).decode("utf-8"), pos + length


class LogReader:
    """A recorded MCAP log: its topics, and iterators over its messages.

    Open with ``open_log(path)`` (or ``simrec_node.open``): a file, a directory of split files,
    or a list of files. Raises ``LogFileError`` for a missing, empty, non-MCAP or unreadable
    file. ``problems`` lists what the last pass over the log could not read (one line each).
    ``path`` names the log (the file, or the directory); ``files`` are its files in order.
    """

    def __init__(self, log: LogSpec) -> None:
        logset = open_log_set(log)
        self.path = Path(logset.name)
        self.files: list[Path] = list(logset.files)
        self.summary = logset.summary
        self._parts = list(zip(logset.files, logset.summaries, strict=True))
        self._label = logset.is_set
        self.topics: dict[str, TopicInfo] = {
            t.topic: TopicInfo(t.type_name, t.count) for t in self.summary.topics if t.type_name
        }
        self.start_ns: int = self.summary.start_ns or 0
        self.end_ns: int = self.summary.end_ns or 0
        self.problems: list[str] = []
        self.undecodable: dict[str, str] = {}  # topic -> why its messages cannot be decoded

    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing is held open between passes; present so the reader works as a context manager."""

    def __repr__(self) -> str:
        return f"LogReader({str(self.path)!r}, {len(self.topics)} topics)"

    # -------------------------------------------------------------------- topics

    @property
    def image_topics(self) -> list[str]:
        return [t for t, info in self.topics.items() if info.type_name in IMAGE_TYPES]

    @property
    def numeric_topics(self) -> list[str]:
        return [t for t, info in self.topics.items() if info.type_name not in IMAGE_TYPES]

    def resolve_topics(self, topics: Iterable[str] | str | None) -> list[str]:
        """Topic names as stored (a missing leading ``/`` is added); ConvertError for unknown ones."""
        if topics is None:
            return list(self.topics)
        if isinstance(topics, str):
            topics = [topics]
        out = []
        for name in topics:
            found = name if name in self.topics else "/" + name if "/" + name in self.topics else None
            if found is None:
                raise ConvertError(f"topic {name!r} is not in {self.path}; {self.describe_topics()}")
            out.append(found)
        return list(dict.fromkeys(out))

    def describe_topics(self) -> str:
        numeric = ", ".join(self.numeric_topics) or "none"
        images = ", ".join(self.image_topics) or "none"
        return f"numeric topics: {numeric}; image topics: {images}"

    def time_window(self, start: float | None, end: float | None) -> tuple[int, int]:
        """Absolute log-time bounds in ns from seconds relative to the log's first message."""
        lo = self.start_ns + round(start * 1e9) if start is not None else 0
        hi = self.start_ns + round(end * 1e9) if end is not None else (1 << 64) - 1
        if hi < lo:
            raise ConvertError(f"--end ({end}) is before --start ({start})")
        return lo, hi

    def check_window(self, start: float | None, end: float | None) -> None:
        """ConvertError when ``start``/``end`` (seconds from the first message) leave no time of
        the log, so a conversion would write nothing. (Iterating such a window yields nothing.)"""
        self.time_window(start, end)
        length = (self.end_ns - self.start_ns) / 1e9
        if start is not None and start > length:
            raise ConvertError(
                f"--start {start:g} is past the end of {self.path}, which is {length:.3f} s long: "
                f"give --start between 0 and {length:.3f}"
            )
        if end is not None and end < 0:
            raise ConvertError(
                f"--end {end:g} is before the log starts: give --end between 0 and {length:.3f}"
            )

    # -------------------------------------------------------------------- iteration

    def iter_raw(
        self,
        topics: Iterable[str] | str | None = None,
        start: float | None = None,
        end: float | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> Iterator[RawRecord]:
        """Undecoded messages of ``topics`` (all when None) between ``start`` and ``end`` seconds."""
        lo, hi = self.time_window(start, end)
        for channel, log_time, publish_time, sequence, data in self._stream(
            set(self.resolve_topics(topics)), lo, hi, progress
        ):
            yield RawRecord(channel.topic, channel.schema_name, log_time, publish_time, sequence, data)

    def iter(
        self,
        topics: Iterable[str] | str | None = None,
        start: float | None = None,
        end: float | None = None,
    ) -> Iterator[tuple[str, int, Any]]:
        """``(topic, log_time_ns, message)``: StateBatch as a ``StateBatchView`` and Tensor as an
        ndarray (numpy views of the payload: copy what you keep), other types as protobuf objects.
        """
        for topic, log_time, _, message in self.iter_decoded(topics, start, end):
            yield topic, log_time, message

    def iter_decoded(
        self,
        topics: Iterable[str] | str | None = None,
        start: float | None = None,
        end: float | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> Iterator[tuple[str, int, int, Any]]:
        """Like ``iter`` with the publish time too: ``(topic, log_time, publish_time, message)``."""
        lo, hi = self.time_window(start, end)
        decoders: dict[_Channel, Decoder | None] = {}
        failed: dict[str, int] = {}
        for channel, log_time, publish_time, _, data in self._stream(
            set(self.resolve_topics(topics)), lo, hi, progress
        ):
            decode = decoders.get(channel, _UNSET)
            if decode is _UNSET:
                decode = decoders[channel] = self._decoder(channel)
            if decode is None:
                failed[channel.topic] = failed.get(channel.topic, 0) + 1
                continue
            try:
                message = decode(data)
            except Exception:  # a malformed payload is the file's problem, not a crash
                failed[channel.topic] = failed.get(channel.topic, 0) + 1
                continue
            yield channel.topic, log_time, publish_time, message
        for topic, count in failed.items():
            self.problems.append(f"{count} message(s) on {topic} could not be decoded and were skipped")

    def _decoder(self, channel: _Channel) -> Decoder | None:
        """The channel's decoder; None (and a problem line) for a channel that cannot be decoded."""
        try:
            return decoder_for(
                channel.schema_name, channel.schema_encoding, channel.schema_data, channel.message_encoding
            )
        except ConvertError as exc:
            self.problems.append(f"{channel.topic}: {exc}")
            self.undecodable[channel.topic] = str(exc)
            return None

    def to_numpy(self, topic: str, **options: Any) -> dict[str, Any]:
        """One topic flattened into arrays, keyed by field path (the NPZ keys without the topic).

        ``options`` are those of ``simrec_node.convert.collect`` (start, end, allow_object).
        """
        from .collect import collect

        (name,) = self.resolve_topics([topic])
        table = collect(self, [name], **options).tables[name]
        return table.arrays()

    # -------------------------------------------------------------------- the stream

    def _stream(
        self,
        wanted: set[str],
        lo: int,
        hi: int,
        progress: Callable[[int, int], None] | None,
    ) -> Iterator[tuple[_Channel, int, int, int, Any]]:
        self.problems = []
        sizes = [os.path.getsize(path) for path, _ in self._parts]
        total, done = sum(sizes), 0
        for (path, summary), size in zip(self._parts, sizes, strict=True):
            if not (summary.indexed and _outside(summary, lo, hi)):  # a scan's times may be short
                report = None if progress is None else lambda pos, _size, at=done: progress(at + pos, total)
                late = summary.indexed and summary.start_ns is not None and lo > summary.start_ns
                yield from self._file_stream(path, wanted, lo, hi, report, late)
            done += size
        if progress is not None:
            progress(total, total)

    def _file_stream(
        self,
        path: Path,
        wanted: set[str],
        lo: int,
        hi: int,
        progress: Callable[[int, int], None] | None,
        late: bool = False,
    ) -> Iterator[tuple[_Channel, int, int, int, Any]]:
        """The file's messages in ``[lo, hi]``; ``late``: ``lo`` is past the file's first message,
        so try jumping to it through the chunk index (see `seek`)."""
        schemas: dict[int, tuple[str, str, bytes]] = {}
        channels: dict[int, _Channel | None] = {}  # None: a channel not selected
        label = f"{path.name}: " if self._label else ""

        def add_channel(cid: int, schema_id: int, topic: str, encoding: str) -> None:
            if cid in channels:
                return
            name, schema_encoding, data = schemas.get(schema_id, ("", "", b""))
            channels[cid] = (
                _Channel(topic, name, schema_encoding, data, encoding) if topic in wanted else None
            )

        size = os.path.getsize(path)
        plan = _plan(path, size, lo, wanted) if late else None
        if plan is not None:
            for schema in plan.schemas:
                schemas[schema.id] = (schema.name, schema.encoding, schema.data)
            for channel in plan.channels:
                add_channel(channel.id, channel.schema_id, channel.topic, channel.message_encoding)
        for kind, value, pos in records(path, lo, hi, None if plan is None else plan.offset):
            if kind == "chunk":
                if progress is not None:
                    progress(pos, size)
                skip = plan.skip if plan is not None and pos == plan.chunk_end else 0
                yield from self._chunk_messages(
                    memoryview(value), schemas, channels, add_channel, lo, hi, skip
                )
            elif kind == "problem":
                self.problems.append(label + value)
            elif isinstance(value, Message):
                channel = channels.get(value.channel_id)
                if channel is not None and lo <= value.log_time <= hi:
                    yield channel, value.log_time, value.publish_time, value.sequence, value.data
            elif isinstance(value, Schema):
                schemas[value.id] = (value.name, value.encoding, value.data)
            elif isinstance(value, Channel):
                add_channel(value.id, value.schema_id, value.topic, value.message_encoding)

    def _chunk_messages(
        self,
        buf: memoryview,
        schemas: dict[int, tuple[str, str, bytes]],
        channels: dict[int, _Channel | None],
        add_channel: Callable[[int, int, str, str], None],
        lo: int,
        hi: int,
        pos: int = 0,
    ) -> Iterator[tuple[_Channel, int, int, int, Any]]:
        """The chunk's messages in ``[lo, hi]`` from record position ``pos`` on."""
        end = len(buf)
        unpack_prefix, unpack_message = _PREFIX.unpack_from, _MESSAGE.unpack_from
        while pos + 9 <= end:
            opcode, length = unpack_prefix(buf, pos)
            start = pos + 9
            pos = start + length
            if pos > end:
                self.problems.append("a chunk ends in the middle of a record; the rest of it is lost")
                return
            if opcode == _OP_MESSAGE:
                cid, sequence, log_time, publish_time = unpack_message(buf, start)
                channel = channels.get(cid)
                if channel is not None and lo <= log_time <= hi:
                    yield channel, log_time, publish_time, sequence, buf[start + 22 : pos]
            elif opcode == _OP_SCHEMA:
                (sid,) = _U16.unpack_from(buf, start)
                name, at = _string(buf, start + 2)
                encoding, at = _string(buf, at)
                (n,) = _U32.unpack_from(buf, at)
                schemas[sid] = (name, encoding, bytes(buf[at + 4 : at + 4 + n]))
            elif opcode == _OP_CHANNEL:
                cid, sid = struct.unpack_from("<HH", buf, start)
                topic, at = _string(buf, start + 4)
                encoding, _ = _string(buf, at)
                add_channel(cid, sid, topic, encoding)


def _plan(path: Path, size: int, lo: int, topics: set[str]) -> SeekPlan | None:
    """Where to start reading ``path`` for ``lo``; None (stream it all) when the summary is unusable."""
    try:
        with open(path, "rb") as f:
            return plan_seek(f, size, lo, topics)
    except Exception:  # a damaged summary only costs the shortcut
        return None


def _outside(summary: LogSummary, lo: int, hi: int) -> bool:
    """True when the file holds no message in ``[lo, hi]`` (or none at all)."""
    if summary.start_ns is None or summary.end_ns is None:
        return True
    return summary.end_ns < lo or summary.start_ns > hi


def open_log(log: LogSpec) -> LogReader:
    """Open a recorded MCAP log for reading: a file, a directory of split files, or a list of
    files read as one log. Raises ``LogFileError`` with a one-line reason."""
    return LogReader(log)
