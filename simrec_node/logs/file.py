"""One MCAP file of a log, mapped read-only: its summary, its data section's layout, its chunks.

The layout comes from one framing walk of the data section (``mcap.walk.DataWalk`` without
decompression): chunk headers and the records between chunks, in file order, hopping record to
record by length. That costs a page per record, so it is the same for an indexed file and a
file a crashed recorder left without a summary; damage in the framing is resynced past and
kept in ``breaks``. A chunk is decompressed and checked only when a read needs it.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simrec_node.mcap.records import (
    MAGIC,
    MAX_CHUNK,
    MESSAGE_HEAD,
    PARSE_ERRORS,
    ChannelRecord,
    ChunkHeader,
    ChunkIndexRecord,
    Damage,
    Opcode,
    SchemaRecord,
    decompress,
    parse_channel,
    parse_message_index,
    parse_metadata,
    parse_schema,
    split_records,
)
from simrec_node.mcap.source import mapped, read_footer
from simrec_node.mcap.summary import Summary, read_header, read_summary
from simrec_node.mcap.walk import Break, DataWalk

from .errors import LogFileError

_RECENT = 2  # decompressed chunks kept for the next read of the same chunk


@dataclass(frozen=True, slots=True)
class Loose:
    """A Message record outside any chunk."""

    offset: int
    log_time: int
    body_start: int
    body_end: int


@dataclass
class Layout:
    """The data section in file order: chunk headers and loose messages, and what was between."""

    pieces: list[ChunkHeader | Loose] = field(default_factory=list)
    schemas: dict[int, SchemaRecord] = field(default_factory=dict)
    channels: dict[int, ChannelRecord] = field(default_factory=dict)
    metadata: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    breaks: list[Break] = field(default_factory=list)
    repeats: list[tuple[int, int]] = field(default_factory=list)  # (chunk offset, same chunk's offset)
    closed: bool = False  # the walk reached DataEnd or the Footer
    good_end: int = 0  # where the walk stopped reading


@dataclass
class Scan:
    """Every chunk decompressed once: what a file without a usable summary holds."""

    schemas: dict[int, SchemaRecord] = field(default_factory=dict)
    channels: dict[int, ChannelRecord] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)
    first: dict[int, int] = field(default_factory=dict)
    last: dict[int, int] = field(default_factory=dict)
    chunk_count: int = 0
    compression: set[str] = field(default_factory=set)
    damaged: list[tuple[int, str]] = field(default_factory=list)  # (offset, reason) of bad chunks


class LogFile:
    """One MCAP file, mapped read-only until ``close()``. Thread-safe: the layout and the scan are
    computed once under a lock, and chunks are read through the shared read-only map."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._stack = ExitStack()
        self.buf, self.size = self._stack.enter_context(mapped(path, LogFileError))
        # Chunks are read with pread (a kernel copy at memory speed), not through the map (page
        # faults 4 KiB at a time cost several times as much on a multi-gigabyte log).
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        self._stack.callback(os.close, self._fd)
        try:
            self.profile, self.library = read_header(self.buf, self.size)
        except Damage as exc:
            self.close()
            raise LogFileError(
                f"{path} is corrupt at byte {exc.offset}: {exc.reason}; it cannot be read"
            ) from None
        self.summary: Summary | None = None
        self.summary_problem: str | None = None  # why the file has no usable summary
        try:
            self.summary = read_summary(self.buf, self.size)
        except Damage as exc:
            self.summary_problem = f"summary section is unreadable ({exc})"
        else:
            if self.summary is None:
                closed = read_footer(self.buf, self.size) is not None
                self.summary_problem = (
                    "file has no summary section" if closed else "file was not closed cleanly (no footer)"
                )
            elif self.summary.statistics is None:
                self.summary_problem, self.summary = "summary section has no statistics record", None
        self._lock = threading.Lock()
        self._layout: Layout | None = None
        self._scan: Scan | None = None
        self._chunk_indexes: dict[int, ChunkIndexRecord] | None = None
        # The last chunks read (offset -> records): `info`'s first/last publish times and a seek
        # after a look-back read the same chunk again and again.
        self._recent: dict[int, bytes | memoryview] = {}
        self._recent_lock = threading.Lock()  # its own: records() runs under _lock in scan()

    @property
    def indexed(self) -> bool:
        """Whether the file's summary section (with statistics) is there and readable."""
        return self.summary is not None

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> LogFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ layout

    def layout(self) -> Layout:
        """The data section's chunk headers and loose records (one framing walk, cached)."""
        with self._lock:
            if self._layout is None:
                self._layout = self._walk()
            return self._layout

    def _walk(self) -> Layout:
        buf = self.buf
        out = Layout()
        walk = DataWalk(buf, len(MAGIC), self.size, verify=False)
        message = int(Opcode.MESSAGE)
        seen: dict[tuple[int, ...], int] = {}
        for item in walk:
            opcode, start, end = item.opcode, item.body_start, item.body_end
            if item.chunk is not None:
                head = item.chunk
                key = (
                    head.start_time,
                    head.end_time,
                    head.uncompressed_size,
                    head.crc,
                    head.data_end - head.data_start,
                )
                if head.crc and key in seen:  # a chunk written twice is read once
                    out.repeats.append((head.offset, seen[key]))
                    continue
                seen[key] = head.offset
                out.pieces.append(head)
                continue
            try:
                if opcode == message:
                    if end - start < MESSAGE_HEAD.size:
                        raise struct.error("Message record too short")
                    log_time = MESSAGE_HEAD.unpack_from(buf, start)[2]
                    out.pieces.append(Loose(item.offset, log_time, start, end))
                elif opcode == Opcode.SCHEMA:
                    schema = parse_schema(buf, start, end)
                    out.schemas.setdefault(schema.id, schema)
                elif opcode == Opcode.CHANNEL:
                    channel = parse_channel(buf, start, end)
                    out.channels.setdefault(channel.id, channel)
                elif opcode == Opcode.METADATA:
                    out.metadata.append(parse_metadata(buf, start, end))
            except PARSE_ERRORS as exc:
                walk.breaks.append(Break(item.offset, f"malformed {Opcode(opcode).name} record ({exc})", end))
        out.breaks = walk.breaks
        out.closed = walk.stopped_at is not None
        out.good_end = walk.position
        return out

    # ------------------------------------------------------------------ chunks

    def records(self, head: ChunkHeader) -> bytes | memoryview:
        """The chunk's records, decompressed and checked (size, CRC); Damage if they are not."""
        size = head.data_end - head.data_start
        if head.uncompressed_size > MAX_CHUNK:
            raise Damage(head.offset, f"a chunk that claims {head.uncompressed_size} bytes uncompressed")
        recent = self._recent.get(head.offset)
        if recent is not None:
            return recent
        data = os.pread(self._fd, size, head.data_start)
        if len(data) != size:
            raise Damage(head.offset, "the file ends inside the chunk (did it shrink?)")
        records = decompress(head, data)
        with self._recent_lock:
            if len(self._recent) >= _RECENT:
                del self._recent[next(iter(self._recent))]
            self._recent[head.offset] = records
        return records

    def first_record(self, head: ChunkHeader, channels: Iterable[int], lo: int) -> int:
        """Where in the chunk's records the first message of ``channels`` at or after ``lo`` starts,
        from the chunk's message indexes; 0 (read it all) when they cannot tell."""
        index = self._chunk_index().get(head.offset)
        if index is None:
            return 0
        first: int | None = None
        try:
            for cid in channels:
                at = index.message_index_offsets.get(cid)
                if at is None:
                    continue
                pairs = parse_message_index(self.buf, at, self.size, cid)
                later = pairs[pairs[:, 0] >= lo, 1]
                if later.size:
                    first = int(later.min()) if first is None else min(first, int(later.min()))
        except PARSE_ERRORS:
            return 0
        return 0 if first is None or first >= head.uncompressed_size else first

    def message_index(self, head: ChunkHeader) -> np.ndarray | None:
        """The chunk's MessageIndex entries of every channel as ``[n, 3]`` uint64 (channel id,
        log_time, offset in the records), from the summary's chunk index; None when the file has
        none for the chunk or one does not parse. Unchecked: see ``batches.chunk_batch``."""
        index = self._chunk_index().get(head.offset)
        if index is None or not index.message_index_offsets:
            return None
        parts = []
        try:
            for cid, at in index.message_index_offsets.items():
                pairs = parse_message_index(self.buf, at, self.size, cid)
                parts.append(np.column_stack([np.full(len(pairs), cid, dtype=np.uint64), pairs]))
        except PARSE_ERRORS:
            return None
        return np.concatenate(parts)

    def in_time_order(self, head: ChunkHeader, channels: Iterable[int]) -> bool:
        """Whether the chunk's messages on ``channels`` are stored in log-time order, from its
        message indexes (False when they cannot tell: then a reader sorts)."""
        index = self._chunk_index().get(head.offset)
        if index is None:
            return False
        try:
            pairs = [
                parse_message_index(self.buf, index.message_index_offsets[cid], self.size, cid)
                for cid in channels
                if cid in index.message_index_offsets
            ]
        except PARSE_ERRORS:
            return False
        if not pairs:
            return False
        both = np.concatenate(pairs)
        times = both[np.argsort(both[:, 1], kind="stable"), 0]
        return bool(np.all(times[1:] >= times[:-1]))

    def _chunk_index(self) -> dict[int, ChunkIndexRecord]:
        with self._lock:
            if self._chunk_indexes is None:
                found = self.summary.chunk_indexes if self.summary is not None else []
                self._chunk_indexes = {ci.chunk_offset: ci for ci in found}
            return self._chunk_indexes

    def loose_record(self, piece: Loose) -> bytes:
        """The Message record outside a chunk, prefix included (a copy: the map may close)."""
        return self.buf[piece.offset : piece.body_end]  # type: ignore[index,no-any-return]

    # ------------------------------------------------------------------ scan

    def scan(self) -> Scan:
        """Decompress every chunk once and count what is there (cached): for files whose summary
        is missing or unusable, and for the channels of chunks that define them inside."""
        layout = self.layout()
        with self._lock:
            if self._scan is None:
                self._scan = self._full_scan(layout)
            return self._scan

    def _full_scan(self, layout: Layout) -> Scan:
        scan = Scan(dict(layout.schemas), dict(layout.channels))
        counts, first, last = scan.counts, scan.first, scan.last
        unpack = MESSAGE_HEAD.unpack_from
        message = int(Opcode.MESSAGE)

        def count(cid: int, t: int) -> None:
            counts[cid] = counts.get(cid, 0) + 1
            if cid not in first or t < first[cid]:
                first[cid] = t
            if cid not in last or t > last[cid]:
                last[cid] = t

        for piece in layout.pieces:
            if isinstance(piece, Loose):
                count(unpack(self.buf, piece.body_start)[0], piece.log_time)
                continue
            try:
                records = self.records(piece)
                spans = split_records(records, piece.offset)
            except Damage as exc:
                scan.damaged.append((piece.offset, exc.reason))
                continue
            scan.chunk_count += 1
            scan.compression.add(piece.compression or "none")
            for opcode, start, end in spans:
                if opcode == message:
                    cid, _, t, _ = unpack(records, start)
                    count(cid, t)
                elif opcode == Opcode.SCHEMA or opcode == Opcode.CHANNEL:
                    try:
                        if opcode == Opcode.SCHEMA:
                            schema = parse_schema(records, start, end)
                            scan.schemas.setdefault(schema.id, schema)
                        else:
                            channel = parse_channel(records, start, end)
                            scan.channels.setdefault(channel.id, channel)
                    except PARSE_ERRORS:
                        scan.damaged.append((piece.offset, f"malformed {Opcode(opcode).name} record"))
        return scan

    # ------------------------------------------------------------------ channels and times

    def channel_records(self) -> dict[int, tuple[ChannelRecord, SchemaRecord | None]]:
        """The file's channels with their schemas: from the summary, else from a scan."""
        if self.summary is not None and self.summary.channels:
            schemas, channels = self.summary.schemas, self.summary.channels
        else:
            scan = self.scan()
            schemas, channels = scan.schemas, scan.channels
        return {cid: (channel, schemas.get(channel.schema_id)) for cid, channel in channels.items()}

    def chunk_channels(self) -> dict[int, set[int]] | None:
        """Chunk offset -> the channel ids in it, from the summary's chunk indexes; None when the
        file has none to say (then every chunk in a time range is read)."""
        summary = self.summary
        if summary is None or not summary.chunk_indexes:
            return None
        if not all(ci.message_index_offsets for ci in summary.chunk_indexes):
            return None
        return {ci.chunk_offset: set(ci.message_index_offsets) for ci in summary.chunk_indexes}

    def time_range(self) -> tuple[int | None, int | None]:
        """First and last log time: the summary's (see `summary_time_range`), else the chunk
        headers and loose messages (no decompression)."""
        if self.summary is not None and self.summary.statistics is not None:
            return summary_time_range(self.summary)
        times = [
            t
            for piece in self.layout().pieces
            for t in ((piece.log_time,) if isinstance(piece, Loose) else (piece.start_time, piece.end_time))
        ]
        return (min(times), max(times)) if times else (None, None)


def summary_time_range(summary: Summary) -> tuple[int | None, int | None]:
    """The log's time range from its summary: the chunk indexes' when there are chunks (the
    Statistics record is one unchecked record; a flipped bit in its start time would make a
    player wait for hours), else the Statistics record's."""
    stats = summary.statistics
    if stats is None or not stats.message_count:
        return None, None
    if summary.chunk_indexes:
        return (
            min(ci.start_time for ci in summary.chunk_indexes),
            max(ci.end_time for ci in summary.chunk_indexes),
        )
    return stats.message_start_time, stats.message_end_time
