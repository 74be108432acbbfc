"""One MCAP file of a log, mapped read-only: its summary, its data section's layout, its chunks.

An indexed file (a summary section whose CRC checks, chunk indexes that add up) is read through
its indexes alone: its chunks are where the chunk indexes say (each Chunk header is checked
against its index when the chunk is read), a window's chunks are found by bisection, and the
message indexes say where in a chunk a message starts and ends. Opening it reads the footer and
the summary section, nothing of the data section.

A file without a usable summary gets one framing walk of its data section (``mcap.walk.DataWalk``
without decompression): chunk headers and the records between chunks, in file order, hopping
record to record by length; damage in the framing is resynced past and kept in ``breaks``.
Either way a chunk is decompressed and checked only when a read needs it. Thread-safe: what is
cached is computed under a lock, chunks are read with pread or through the read-only map, and
each thread decompresses with its own zstd context.
"""

from __future__ import annotations

import mmap
import os
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simrec_node.mcap.records import (
    CHUNK_HEAD,
    MAGIC,
    MAX_CHUNK,
    MESSAGE_HEAD,
    PARSE_ERRORS,
    PREFIX,
    ChannelRecord,
    ChunkHeader,
    ChunkIndexRecord,
    Damage,
    Opcode,
    SchemaRecord,
    chunk_records,
    decompress,
    decompress_prefix,
    message_head_at,
    parse_channel,
    parse_chunk_header,
    parse_message_head,
    parse_message_index,
    parse_metadata,
    parse_schema,
    record_span,
    split_records,
)
from simrec_node.mcap.source import mapped, read_footer
from simrec_node.mcap.summary import Summary, read_header, read_summary
from simrec_node.mcap.walk import Break, DataWalk

from .buffers import Buffers
from .errors import LogFileError

_RECENT = 2  # decompressed chunks kept for the next read of the same chunk


@dataclass(slots=True)
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


Piece = ChunkHeader | Loose


def piece_start(piece: Piece) -> int:
    return piece.log_time if isinstance(piece, Loose) else piece.start_time


def piece_end(piece: Piece) -> int:
    return piece.log_time if isinstance(piece, Loose) else piece.end_time


@dataclass
class Timeline:
    """A file's pieces by start time, for bisecting: ``reach[i]`` is the latest end time of
    ``order[:i + 1]`` (non-decreasing even where chunks overlap)."""

    order: list[Piece]
    starts: list[int]
    reach: list[int]


MessageHead = tuple[int, int, int, int]  # channel id, sequence, log time, publish time
UNREAD = -1  # the CRC of a chunk header taken from the chunk index (its Chunk record unread)


@dataclass
class Scan:
    """Every chunk decompressed once: what a file without a usable summary holds."""

    schemas: dict[int, SchemaRecord] = field(default_factory=dict)
    channels: dict[int, ChannelRecord] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)
    # channel -> (log_time, publish_time) of its first and last message by log time (the publish
    # times say whether the channel carries sim time, as an index's first and last entries do)
    first: dict[int, tuple[int, int]] = field(default_factory=dict)
    last: dict[int, tuple[int, int]] = field(default_factory=dict)
    chunk_count: int = 0
    compression: set[str] = field(default_factory=set)
    damaged: list[tuple[int, str]] = field(default_factory=list)  # (offset, reason) of bad chunks


class LogFile:
    """One MCAP file, mapped read-only until ``close()``. Thread-safe: the layout and the scan are
    computed once under a lock, and chunks are read through the shared read-only map."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._stack = ExitStack()
        self._buffers = Buffers()  # what zstd and stored chunks are read into, reused once free
        self._stack.callback(self._buffers.clear)
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
        self._indexed: list[ChunkHeader] | bool | None = False  # False: not looked at yet
        self._timeline: Timeline | None = None
        self._time_range: tuple[int | None, int | None] | None = None
        self._holds: dict[int, frozenset[int]] | bool | None = False
        # The last chunks read (offset -> records): a seek after a look-back, or a reader that
        # goes back over a chunk, reads the same chunk again.
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
                    log_time = parse_message_head(buf, start, end)[2]
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

    # ------------------------------------------------------------------ index lookups

    def pieces(self) -> list[Piece]:
        """The data section's chunks (and loose messages) in file order: from the summary's chunk
        indexes where every one matches the Chunk header it points at, so an indexed file is
        never walked; else from the framing walk (`layout`)."""
        indexed = self._indexed_pieces()
        return indexed if indexed is not None else self.layout().pieces  # type: ignore[return-value]

    def damage(self) -> tuple[list[Break], list[tuple[int, int]]]:
        """The framing walk's breaks and repeated chunks (none where the index is read instead)."""
        if self._indexed_pieces() is not None:
            return [], []
        layout = self.layout()
        return layout.breaks, layout.repeats

    def window(self, lo: int, hi: int) -> list[Piece]:
        """The pieces whose time range meets ``[lo, hi]``, by start time: two bisections on the
        timeline, then only the pieces between them are looked at."""
        line = self.timeline()
        first = bisect_left(line.reach, lo)  # every piece before it ends before lo
        last = bisect_right(line.starts, hi)  # every piece from it starts after hi
        return [p for p in line.order[first:last] if piece_end(p) >= lo]

    def timeline(self) -> Timeline:
        """The pieces sorted by start time, with what bisecting them needs (cached)."""
        line = self._timeline
        if line is None:
            order = sorted(self.pieces(), key=piece_start)
            reach, latest = [], -1
            for piece in order:
                latest = max(latest, piece_end(piece))
                reach.append(latest)
            line = self._timeline = Timeline(order, [piece_start(p) for p in order], reach)
        return line

    def _indexed_pieces(self) -> list[ChunkHeader] | None:
        with self._lock:
            if self._indexed is False:
                self._indexed = self._read_index()
            return self._indexed  # type: ignore[return-value]

    def _read_index(self) -> list[ChunkHeader] | None:
        """The chunks as the summary's chunk indexes describe them, in file order, none of them
        read yet (their CRC is ``UNREAD``: `records` checks each header against its index when
        it reads the chunk); None when the file has no chunk indexes or they do not add up (then
        the data section is walked)."""
        summary = self.summary
        if summary is None or not summary.chunk_indexes or summary.statistics is None:
            return None
        if summary.statistics.chunk_count != len(summary.chunk_indexes):
            return None
        heads: dict[int, ChunkHeader] = {}
        data_end = summary.footer.summary_start
        for ci in summary.chunk_indexes:
            start = ci.chunk_offset + PREFIX.size + CHUNK_HEAD.size + len(ci.compression.encode()) + 8
            end = ci.chunk_offset + ci.chunk_length
            if ci.chunk_offset in heads or start + ci.compressed_size != end or end > data_end:
                return None
            heads[ci.chunk_offset] = ChunkHeader(
                ci.chunk_offset,
                ci.chunk_length,
                ci.start_time,
                ci.end_time,
                ci.uncompressed_size,
                UNREAD,
                ci.compression,
                start,
                end,
            )
        return [heads[offset] for offset in sorted(heads)]

    def _header(self, head: ChunkHeader) -> ChunkHeader:
        """``head`` itself, or for one taken from the index, the Chunk header it points at, which
        must say the same; Damage if it does not."""
        if head.crc != UNREAD:
            return head
        try:
            record_span(self.buf, head.offset, self.size, Opcode.CHUNK)
            found = parse_chunk_header(self.buf, head.offset, self.size)
        except PARSE_ERRORS:
            raise Damage(head.offset, "no Chunk record where the chunk index points") from None
        if found._replace(crc=UNREAD) != head:
            raise Damage(head.offset, "the Chunk header does not match its chunk index")
        return found

    def message_heads(self, chunk_offset: int, offsets: Iterable[int]) -> dict[int, MessageHead]:
        """The heads of the Message records at ``offsets`` in the records of the chunk at
        ``chunk_offset`` (offsets as its message indexes give them), reading no more of the chunk
        than they need: a few bytes of a stored chunk, the start of a compressed one up to the last
        of them. Unchecked by the chunk's CRC, so the caller compares channel id and log time with
        the index that sent it; an offset that does not hold a whole Message head is left out."""
        wanted = sorted(set(offsets))
        need = PREFIX.size + MESSAGE_HEAD.size
        try:
            head = parse_chunk_header(self.buf, chunk_offset, self.size)
        except (Damage, *PARSE_ERRORS):
            return {}
        wanted = [off for off in wanted if off >= 0 and off + need <= head.uncompressed_size]
        if not wanted or head.data_end > self.size:
            return {}
        if head.compression:
            try:
                with memoryview(self.buf) as whole, whole[head.data_start : head.data_end] as data:  # type: ignore[arg-type]
                    records = decompress_prefix(head, data, wanted[-1] + need)
            except Damage:
                return {}
            base, have = 0, len(records)
        else:
            records, base, have = self.buf, head.data_start, head.data_end - head.data_start
        out: dict[int, MessageHead] = {}
        for off in wanted:
            with suppress(*PARSE_ERRORS):
                out[off] = message_head_at(records, base + off, base + have)
        return out

    # ------------------------------------------------------------------ chunks

    def records(self, head: ChunkHeader, *, through_map: bool = False) -> bytes | memoryview:
        """The chunk's records, decompressed and checked (size, CRC); Damage if they are not.

        ``through_map`` decompresses straight from the file's map instead of a pread copy: for a
        single read (a seek), where a fresh buffer as large as the chunk (its page faults) costs
        more than the map's; a reader going through many chunks reuses its buffers, and pread wins."""
        head = self._header(head)
        size = head.data_end - head.data_start
        if head.uncompressed_size > MAX_CHUNK:
            raise Damage(head.offset, f"a chunk that claims {head.uncompressed_size} bytes uncompressed")
        recent = self._recent.get(head.offset)
        if recent is not None:
            return recent
        if through_map and head.compression:
            if head.data_end > self.size:
                raise Damage(head.offset, "the file ends inside the chunk")
            _will_need(self.buf, head.data_start, head.data_end)
            return chunk_records(self.buf, head)
        into = self._buffers.take(head.uncompressed_size)  # used where the decompressor can (mcap)
        if head.compression or into is None or size != head.uncompressed_size:
            data = os.pread(self._fd, size, head.data_start)
            got = len(data)
        else:  # stored records: read straight into the buffer
            data = memoryview(into)[:size]
            got = os.preadv(self._fd, [data], head.data_start)
        if got != size:
            raise Damage(head.offset, "the file ends inside the chunk (did it shrink?)")
        records = decompress(head, data, into)
        with self._recent_lock:
            if len(self._recent) >= _RECENT:
                del self._recent[next(iter(self._recent))]
            self._recent[head.offset] = records
        return records

    def _entries(
        self, head: ChunkHeader, channels: Iterable[int] | None = None
    ) -> dict[int, np.ndarray] | None:
        """The ``(log_time, offset)`` entries of the chunk's message indexes of ``channels`` (all
        when None) that it has; None when it has no message indexes or one is unreadable."""
        index = self._chunk_index().get(head.offset)
        if index is None or not index.message_index_offsets:
            return None
        offsets = index.message_index_offsets
        try:
            return {
                cid: parse_message_index(self.buf, offsets[cid], self.size, cid)
                for cid in (offsets if channels is None else channels)
                if cid in offsets
            }
        except PARSE_ERRORS:
            return None

    def first_record(self, head: ChunkHeader, channels: Iterable[int], lo: int, hi: int) -> int | None:
        """Where in the chunk's records the first message of ``channels`` within ``[lo, hi]``
        starts, from the chunk's message indexes: None when they say it holds none (the chunk
        need not be read), 0 (read it all) when they cannot tell."""
        entries = self._entries(head, channels)
        if entries is None:
            return 0
        inside = [pairs[(pairs[:, 0] >= lo) & (pairs[:, 0] <= hi), 1] for pairs in entries.values()]
        firsts = [int(offsets.min()) for offsets in inside if offsets.size]
        if not firsts:
            return None
        return 0 if min(firsts) >= head.uncompressed_size else min(firsts)

    def newest_records(
        self, head: ChunkHeader, channels: Iterable[int], lo: int, hi: int
    ) -> list[int] | None:
        """Where in the chunk's records the newest message of each of ``channels`` within
        ``[lo, hi]`` starts, from its message indexes (empty: it holds none); None when they
        cannot tell (then the whole chunk is looked through)."""
        entries = self._entries(head, channels)
        if entries is None:
            return None
        out = []
        for pairs in entries.values():
            inside = pairs[(pairs[:, 0] >= lo) & (pairs[:, 0] <= hi)]
            if inside.size:
                newest = np.lexsort((inside[:, 1], inside[:, 0]))[-1]  # latest time, then offset
                out.append(int(inside[newest, 1]))
        return out

    def record_at(self, head: ChunkHeader, offset: int) -> tuple[bytes | memoryview, int] | None:
        """``(records, base)``: the chunk's records from position ``base`` through the one record
        at ``offset`` (up to where the next record its message indexes list begins), decompressed
        no further: what a seek's first message needs. Not checked against the chunk's CRC, which
        covers all its records (the caller checks the message against the index, and a reader
        going on reads the whole chunk, checked); None when the message indexes cannot tell where
        the record ends, or when it ends in the last tenth of a compressed chunk (decompressing
        all of it in one call, checked, costs no more than nearly all of it in pieces)."""
        entries = self._entries(head)
        if entries is None:
            return None
        later = [pairs[pairs[:, 1] > offset, 1] for pairs in entries.values()]
        end = min([head.uncompressed_size] + [int(offsets.min()) for offsets in later if offsets.size])
        head = self._header(head)
        if 10 * end > 9 * head.uncompressed_size and head.compression:
            return None  # nearly all of it: decompressing it whole (and checking it) costs no more
        if not head.compression:
            if head.data_start + end > min(head.data_end, self.size):
                return None
            return self.buf[head.data_start + offset : head.data_start + end], offset  # type: ignore[index]
        if head.data_end > self.size:
            raise Damage(head.offset, "the file ends inside the chunk")
        _will_need(self.buf, head.data_start, head.data_end)
        with memoryview(self.buf) as whole, whole[head.data_start : head.data_end] as data:  # type: ignore[arg-type]
            return decompress_prefix(head, data, end), 0

    def message_index(self, head: ChunkHeader) -> np.ndarray | None:
        """The chunk's MessageIndex entries of every channel as ``[n, 3]`` uint64 (channel id,
        log_time, offset in the records), from the summary's chunk index; None when the file has
        none for the chunk or one does not parse. Unchecked: see ``batches.chunk_batch``."""
        entries = self._entries(head)
        if not entries:
            return None
        return np.concatenate(
            [
                np.column_stack([np.full(len(pairs), cid, dtype=np.uint64), pairs])
                for cid, pairs in entries.items()
            ]
        )

    def in_time_order(self, head: ChunkHeader, channels: Iterable[int]) -> bool:
        """Whether the chunk's messages on ``channels`` are stored in log-time order, from its
        message indexes (False when they cannot tell: then a reader sorts)."""
        entries = self._entries(head, channels)
        if not entries:
            return False
        both = np.concatenate(list(entries.values()))
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

        def count(cid: int, t: int, published: int) -> None:
            counts[cid] = counts.get(cid, 0) + 1
            if cid not in first or t < first[cid][0]:
                first[cid] = (t, published)
            if cid not in last or t > last[cid][0]:
                last[cid] = (t, published)

        for piece in layout.pieces:
            if isinstance(piece, Loose):
                cid, _, t, published = unpack(self.buf, piece.body_start)
                count(cid, t, published)
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
                    cid, _, t, published = unpack(records, start)
                    count(cid, t, published)
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

    def chunk_channels(self) -> dict[int, frozenset[int]] | None:
        """Chunk offset -> the channel ids in it, from the summary's chunk indexes; None when the
        file has none to say (then every chunk in a time range is read)."""
        if self._holds is False:
            found = self.summary.chunk_indexes if self.summary is not None else []
            self._holds = (
                {ci.chunk_offset: frozenset(ci.message_index_offsets) for ci in found}
                if found and all(ci.message_index_offsets for ci in found)
                else None
            )
        return self._holds  # type: ignore[return-value]

    def metadata(self, name: str) -> dict[str, str] | None:
        """The values of the first Metadata record called ``name`` (``simrec_node.mcap.metadata``):
        through the summary's metadata indexes where they index every record, else from the data
        section's walk; None when there is no such record (or it is unreadable)."""
        summary = self.summary
        if summary is not None and summary.statistics.metadata_count <= len(summary.metadata_indexes):
            for index in sorted(summary.metadata_indexes, key=lambda mi: mi.offset):
                if index.name == name:
                    try:
                        body = record_span(self.buf, index.offset, self.size, Opcode.METADATA)
                        return parse_metadata(self.buf, *body)[1]
                    except PARSE_ERRORS:
                        return None
            return None
        return next((values for found, values in self.layout().metadata if found == name), None)

    def time_range(self) -> tuple[int | None, int | None]:
        """First and last log time: the summary's (see `summary_time_range`), else the chunk
        headers and loose messages (no decompression)."""
        if self.summary is not None and self.summary.statistics is not None:
            if self._time_range is None:
                self._time_range = summary_time_range(self.summary)
            return self._time_range
        times = [
            t
            for piece in self.layout().pieces
            for t in ((piece.log_time,) if isinstance(piece, Loose) else (piece.start_time, piece.end_time))
        ]
        return (min(times), max(times)) if times else (None, None)


def _will_need(buf: object, start: int, end: int) -> None:
    """Ask the kernel to read ``[start, end)`` of the map in one go (a file out of the page cache
    would otherwise come in a few pages per fault)."""
    if hasattr(buf, "madvise") and hasattr(mmap, "MADV_WILLNEED"):
        aligned = start - start % mmap.PAGESIZE
        with suppress(OSError, ValueError):  # advice only
            buf.madvise(mmap.MADV_WILLNEED, aligned, end - aligned)


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
