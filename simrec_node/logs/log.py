"""The one log reader: a file, several files or a split directory read as one log.

Damage policy (the same for ``info``, ``play`` and ``convert``): reading goes on past a bad
chunk or a break in the framing; each one is counted once per pass in ``skipped`` as a line
that says which file, at which byte, and why ("run_1.mcap: chunk at byte 4096 of 9000 is
corrupt (CRC mismatch); its messages were skipped"). Nothing is raised for damage inside a
file that opened; only a path that is not a readable MCAP file raises ``LogFileError``.

Messages come in log-time order: files in playing order (files whose time ranges overlap are
merged), chunks by start time (overlapping chunks merged), and within a chunk by log time.
A chunk is decompressed only when its time range meets the window asked for (and, in an
indexed file, its message indexes list a wanted message in it). The first chunk of a read is
decompressed in the reader's thread; once the reader asks for a second message the next ones
are decompressed ahead on a thread pool (zstd and lz4 release the GIL) where cores allow. So a
seek (one message at a time) costs one chunk, or less: its first message is decompressed from
the start of its chunk up to where the message indexes say it ends, and checked against them
(channel, time, framing); the chunk's CRC covers the whole chunk, so it is checked when the
reader goes on and the whole chunk is read (a mismatch is then said in ``skipped``).
"""

from __future__ import annotations

import functools
import heapq
import itertools
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from simrec_node.mcap.records import (
    MESSAGE_HEAD,
    PARSE_ERRORS,
    PREFIX,
    ChunkHeader,
    Damage,
    Opcode,
    record_span,
)

from .batches import Batch, chunk_batch, message_records, scan_batch
from .file import LogFile, Loose, Piece
from .file import piece_end as _end
from .file import piece_start as _start
from .files import LogSpec, as_list, play_order, resolve
from .model import Channel, Message

ALL_TIME = (0, (1 << 64) - 1)
_MESSAGE = int(Opcode.MESSAGE)
# Threads decompressing chunks ahead of the reader: one core is left to the reader itself, which
# copies what it reads (on 2 cores, 1 ahead read 320 MB of state in 0.31-0.35 s against
# 0.35-0.39 s with 2: a third thread only fights the two for the cores, and each chunk in flight
# is one more fresh buffer to fault in).
_AHEAD = max(1, min(4, (os.cpu_count() or 2) - 1))
# Chunks queued ahead of the reader: more than the threads, so that a log of small chunks (a
# camera frame's, between state batches that sit in chunks of their own) keeps them busy
# (2-camera log on 2 cores: 0.57-0.62 s against 0.63-0.66 s with one queued per thread).
_DEPTH = 4

Progress = Callable[[int, int], None]  # (bytes done, bytes in all)


class Log:
    """An opened log. ``files`` are its files in playing order, ``channels`` its channels (one
    per topic, type and encodings across files), ``skipped`` what the last pass could not read.

    A context manager: ``close()`` unmaps the files. Raises ``LogFileError`` (one line) for a
    missing path, a directory without ``.mcap`` files, a pipe, or a file that is not MCAP.
    """

    def __init__(self, spec: LogSpec) -> None:
        names = as_list(spec)
        single = len(names) == 1 and not os.path.isdir(names[0])
        name, paths = (names[0], [Path(names[0])]) if single else resolve(names)
        self.name = name
        self.is_set = not single
        self._stack = ExitStack()
        try:
            opened = [self._stack.enter_context(LogFile(path)) for path in paths]
        except BaseException:
            self._stack.close()
            raise
        order = play_order(paths, [f.time_range()[0] for f in opened]) if self.is_set else [0]
        self.files: list[LogFile] = [opened[i] for i in order]
        self.channels: dict[int, Channel] = {}
        # per file: its channel id -> the log's channel
        self._local: list[dict[int, Channel]] = []
        by_key: dict[tuple, Channel] = {}
        for file in self.files:
            local: dict[int, Channel] = {}
            for cid, (record, schema) in sorted(file.channel_records().items()):
                channel = Channel(
                    cid if cid not in self.channels else max(self.channels) + 1,
                    record.topic,
                    record.message_encoding,
                    schema.name if schema else "",
                    schema.encoding if schema else "",
                    schema.data if schema else b"",
                    dict(record.metadata),
                )
                known = by_key.get(channel.key)
                if known is None:
                    known = by_key[channel.key] = self.channels[channel.id] = channel
                local[cid] = known
            self._local.append(local)
        self.skipped: list[str] = []

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Log:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Log({self.name!r}, {len(self.files)} file(s), {len(self.channels)} channel(s))"

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def _label(self, file: LogFile) -> str:
        return f"{file.path.name}: " if self.is_set else ""

    # ------------------------------------------------------------------ reading

    def _per_file(self, channels: Iterable[Channel] | None) -> list[tuple[LogFile, dict[int, Channel]]]:
        """Each file with its own channel ids of ``channels`` (all when None)."""
        wanted = set(self.channels.values()) if channels is None else set(channels)
        return [
            (file, {cid: ch for cid, ch in self._local[i].items() if ch in wanted})
            for i, file in enumerate(self.files)
        ]

    def messages(
        self,
        channels: Iterable[Channel] | None = None,
        start_ns: int = ALL_TIME[0],
        end_ns: int = ALL_TIME[1],
        *,
        progress: Progress | None = None,
    ) -> Iterator[Message]:
        """Messages of ``channels`` (all when None) with ``start_ns <= log_time <= end_ns``, in
        log-time order. Damage is skipped and said in ``skipped`` (see the module's policy)."""
        self.skipped = []
        total, done = self.size, 0
        parts = []
        for file, local in self._per_file(channels):
            lo, hi = file.time_range()
            parts.append((file, local, lo, hi, done))
            done += file.size
        for group in _overlapping(parts):
            streams = [
                self._file_messages(file, local, start_ns, end_ns, progress, base, total)
                for file, local, _, _, base in group
            ]
            try:
                if len(streams) == 1:
                    yield from streams[0]
                else:
                    yield from heapq.merge(*streams, key=lambda m: m.log_time)
            finally:
                for stream in streams:
                    stream.close()
        if progress is not None:
            progress(total, total)

    def _file_messages(
        self,
        file: LogFile,
        local: dict[int, Channel],
        lo: int,
        hi: int,
        progress: Progress | None,
        base: int,
        total: int,
    ) -> Iterator[Message]:
        pieces = self._pieces(file, local, lo, hi)
        chunks = _ChunkReader(file, pieces, local, lo, hi)
        try:
            for group in chunks:
                batch: list[Message] = []
                for piece, result in group:
                    if result is None:  # a loose message
                        batch.extend(_messages(file.loose_record(piece), local, lo, hi)[0])
                        continue
                    lazy = len(group) == 1 and file.in_time_order(piece, local)
                    start = result.start
                    if lazy and not result.begun:
                        # A seek: its first message from the chunk's records up to it alone; a
                        # reader that comes back for more has the whole chunk read (and checked)
                        # and the next ones read ahead.
                        first = _first_message(file, piece, start, local, lo, hi)
                        if first is not None:
                            message, start = first
                            yield message
                            chunks.read_ahead()
                    try:
                        records = result.result()
                    except Damage as exc:
                        self._skip_chunk(file, piece, exc)
                        continue
                    broken: list[str] = []
                    stream = _iter_messages(records, local, lo, hi, start, broken)
                    if lazy:
                        # Lazily: a reader that wants one message decodes one, and only one that
                        # comes back for more has the next chunks read ahead.
                        first = next(stream, None)
                        if first is not None:
                            yield first
                            chunks.read_ahead()
                        yield from stream
                    else:
                        batch.extend(stream)
                    self._skip_rest(file, piece, broken)
                    if progress is not None:
                        progress(base + piece.data_end, total)
                times = [m.log_time for m in batch]
                if any(a > b for a, b in itertools.pairwise(times)):
                    batch.sort(key=lambda m: m.log_time)
                if batch:
                    yield batch[0]
                    chunks.read_ahead()
                    yield from itertools.islice(batch, 1, None)
        finally:
            chunks.close()

    def _pieces(self, file: LogFile, local: dict[int, Channel], lo: int, hi: int) -> list[Piece]:
        """The file's chunks and loose messages that may hold ``local``'s channels within
        ``[lo, hi]``, by start time; the framing damage and repeated chunks go to ``skipped``."""
        label = self._label(file)
        breaks, repeats = file.damage()
        for damage in breaks:
            self.skipped.append(label + damage.describe(file.size))
        for offset, first in repeats:
            self.skipped.append(
                f"{label}the chunk at byte {offset} repeats the one at byte {first}; read once"
            )
        if not local:
            return []
        holds = file.chunk_channels()
        return [
            p
            for p in file.window(lo, hi)
            if holds is None
            or isinstance(p, Loose)
            or not holds.get(p.offset, local.keys()).isdisjoint(local)
        ]

    def _skip_chunk(self, file: LogFile, piece: ChunkHeader, exc: Damage) -> None:
        self.skipped.append(
            f"{self._label(file)}chunk at byte {piece.offset} of {file.size} is corrupt ({exc.reason}); "
            "its messages were skipped"
        )

    def _skip_rest(self, file: LogFile, piece: ChunkHeader, broken: list[str]) -> None:
        for what in broken:
            self.skipped.append(
                f"{self._label(file)}chunk at byte {piece.offset} of {file.size}: {what}; "
                "the rest of it was skipped"
            )

    # ------------------------------------------------------------------ bulk reading

    def batches(
        self,
        channels: Iterable[Channel] | None = None,
        start_ns: int = ALL_TIME[0],
        end_ns: int = ALL_TIME[1],
        *,
        progress: Progress | None = None,
    ) -> Iterator[Batch]:
        """The messages of ``messages()``, a chunk at a time as columns (see ``batches.Batch``):
        files in playing order, chunks by start time, messages in record order. A stable sort
        by ``log_time`` of their concatenation is ``messages()``'s order. The same damage
        policy, said in ``skipped``."""
        self.skipped = []
        total, base = self.size, 0
        for file, local in self._per_file(channels):
            yield from self._file_batches(file, local, start_ns, end_ns, progress, base, total)
            base += file.size
        if progress is not None:
            progress(total, total)

    def _file_batches(
        self,
        file: LogFile,
        local: dict[int, Channel],
        lo: int,
        hi: int,
        progress: Progress | None,
        base: int,
        total: int,
    ) -> Iterator[Batch]:
        ids = np.full(1 << 16, -1, dtype=np.int64)  # the file's channel id -> the log's
        for cid, channel in local.items():
            if 0 <= cid < len(ids):
                ids[cid] = channel.id
        chunks = _ChunkReader(file, self._pieces(file, local, lo, hi), local, lo, hi)
        chunks.read_ahead()  # a bulk read wants every chunk: keep the cores busy from the start
        try:
            for group in chunks:
                for piece, result in group:
                    broken: list[str] = []
                    if result is None:  # a loose message
                        batch = scan_batch(file.loose_record(piece), ids, lo, hi, broken)
                    else:
                        try:
                            records = result.result()
                        except Damage as exc:
                            self._skip_chunk(file, piece, exc)
                            continue
                        index = functools.partial(file.message_index, piece)
                        batch = chunk_batch(records, index, ids, lo, hi, broken)
                        self._skip_rest(file, piece, broken)
                        if progress is not None:
                            progress(base + piece.data_end, total)
                    if len(batch):
                        yield batch
        finally:
            chunks.close()

    # ------------------------------------------------------------------ look-back

    def latest(self, channels: Iterable[Channel], floor: int, time_ns: int) -> dict[Channel, Message]:
        """The newest message of each of ``channels`` with ``floor <= log_time <= time_ns``,
        reading chunks backwards from ``time_ns`` and stopping once each channel has one."""
        wanted = set(channels)
        found: dict[Channel, Message] = {}
        candidates = []
        for file, local in self._per_file(wanted):
            if local:
                candidates += [(p, file, local) for p in file.window(floor, time_ns)]
        candidates.sort(key=lambda c: _end(c[0]), reverse=True)
        for piece, file, local in candidates:
            if len(found) == len(wanted) and min(m.log_time for m in found.values()) >= _end(piece):
                break  # every channel has a message newer than anything this chunk holds
            if isinstance(piece, Loose):
                messages = _messages(file.loose_record(piece), local, floor, time_ns)[0]
            else:
                newest = file.newest_records(piece, local, floor, time_ns)
                if newest == []:
                    continue  # its message indexes say it holds none of them in the window
                try:
                    records = file.records(piece)
                except Damage:
                    continue  # a read pass says where; a look-back just finds less
                if newest is None:
                    messages = _messages(records, local, floor, time_ns)[0]
                else:  # only the records the indexes point at
                    messages = [m for at in newest for m in _message_at(records, at, local, floor, time_ns)]
            for message in messages:
                known = found.get(message.channel)
                if known is None or message.log_time >= known.log_time:
                    found[message.channel] = message
        return found


def _overlapping(parts: list[tuple]) -> list[list[tuple]]:
    """Files in playing order, grouped where their time ranges overlap (a group is merged)."""
    groups: list[list[tuple]] = []
    group_end: int | None = None
    for part in parts:
        lo, hi = part[2], part[3]
        if groups and lo is not None and group_end is not None and lo < group_end:
            groups[-1].append(part)
            group_end = max(group_end, hi)
        else:
            groups.append([part])
            group_end = hi
    return groups


_pool_lock = threading.Lock()
_shared_pool: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    """The readers' decompression threads, started once per process (starting threads per read
    cost more than reading a small log)."""
    global _shared_pool
    with _pool_lock:
        if _shared_pool is None:
            _shared_pool = ThreadPoolExecutor(_AHEAD, thread_name_prefix="simrec-log-read")
        return _shared_pool


class _Chunk:
    """A chunk's records to come, and where in them reading starts (``start``, from its message
    indexes): read in the calling thread when asked for, unless ``begin`` has handed the reading
    to the pool first."""

    __slots__ = ("_file", "_future", "_piece", "_taken", "start")

    def __init__(self, file: LogFile, piece: ChunkHeader, start: int) -> None:
        self._file, self._piece, self.start = file, piece, start
        self._future: Future | None = None
        self._taken = False

    def begin(self, pool: ThreadPoolExecutor) -> None:
        if self._future is None and not self._taken:
            self._future = pool.submit(self._file.records, self._piece)

    def result(self) -> bytes | memoryview:
        self._taken = True
        if self._future is None:  # read here, once: through the map
            return self._file.records(self._piece, through_map=True)
        return self._future.result()

    @property
    def begun(self) -> bool:
        """Whether its records are read or being read."""
        return self._taken or self._future is not None

    def running(self) -> Future | None:
        """The pool's read of it if one has started and cannot be called off."""
        future = self._future
        return None if future is None or future.cancel() else future


class _ChunkReader:
    """Pieces sorted by start time, in groups where their time ranges overlap, each chunk's
    records read (decompressed, checked) when its group comes. The first chunks are read in the
    calling thread; once the reader asks past the first (``read_ahead``), the next ones are read
    ahead on the shared thread pool (``_AHEAD`` threads, ``_DEPTH`` chunks queued; zstd and lz4
    release the GIL).
    So a seek that takes one message reads one chunk, and a long read keeps the cores busy."""

    def __init__(
        self, file: LogFile, pieces: Iterable[Piece], local: dict[int, Channel], lo: int, hi: int
    ) -> None:
        self._file = file
        self._pieces = iter(pieces)
        self._window = (local, lo, hi)
        self._pending: deque[tuple[Piece, _Chunk | None]] = deque()
        self._group: list[tuple[Piece, _Chunk | None]] = []
        self._pool: ThreadPoolExecutor | None = None

    def read_ahead(self) -> None:
        """From now on, read the next chunks ahead of the reader."""
        if self._pool is None and _AHEAD > 0:
            self._pool = _pool()
            for _, chunk in itertools.chain(self._group, self._pending):
                if chunk is not None:
                    chunk.begin(self._pool)
            self._fill()

    def _fill(self) -> None:
        pending, pool = self._pending, self._pool
        while len(pending) <= (0 if pool is None else _DEPTH):
            piece = next(self._pieces, None)
            if piece is None:
                return
            if isinstance(piece, Loose):
                pending.append((piece, None))
                continue
            local, lo, hi = self._window
            start = self._file.first_record(piece, local, lo, hi)
            if start is None:
                continue  # its message indexes say it holds nothing in the window
            chunk = _Chunk(self._file, piece, start)
            if pool is not None:
                chunk.begin(pool)
            pending.append((piece, chunk))

    def __iter__(self) -> Iterator[list[tuple[Piece, _Chunk | None]]]:
        pending = self._pending
        self._fill()
        group_end = -1
        while pending:
            piece = pending[0][0]  # left in place while its group is read: close() sees it
            if self._group and _start(piece) > group_end:
                yield self._group
                self._group, group_end = [], -1
                continue
            self._group.append(pending.popleft())
            self._fill()
            group_end = max(group_end, _end(piece))
        if self._group:
            yield self._group

    def close(self) -> None:
        """A reader that stops early: call off what has not started, wait for what has (it reads
        the file, which the caller may close next)."""
        chunks = [c for _, c in itertools.chain(self._group, self._pending) if c is not None]
        self._pending.clear()
        self._group = []
        wait([f for f in (c.running() for c in chunks) if f is not None])


def _first_message(
    file: LogFile, piece: ChunkHeader, start: int, local: dict[int, Channel], lo: int, hi: int
) -> tuple[Message, int] | None:
    """The message at record position ``start`` of the chunk, from its records up to it alone,
    and where the next record starts; None when that cannot be done (then the chunk is read)."""
    try:
        found = file.record_at(piece, start)
    except Damage:
        return None
    if found is None:
        return None
    records, base = found
    at = start - base
    messages = _message_at(records, at, local, lo, hi)
    if len(messages) != 1:
        return None
    return messages[0], start + PREFIX.size + len(messages[0].data) + MESSAGE_HEAD.size


def _message_at(
    records: bytes | memoryview, at: int, local: dict[int, Channel], lo: int, hi: int
) -> list[Message]:
    """The message of the Message record at position ``at`` of a chunk's records, if it is on
    ``local``'s channels within ``[lo, hi]`` (an empty list if not, or if no whole record is there)."""
    try:
        end = record_span(records, at, len(records), _MESSAGE)[1]
    except PARSE_ERRORS:
        return []
    return _messages(memoryview(records)[:end], local, lo, hi, at)[0]


def _messages(
    records: bytes | memoryview, local: dict[int, Channel], lo: int, hi: int, pos: int = 0
) -> tuple[list[Message], str | None]:
    """`_iter_messages` as a list, and what broke the framing (None when nothing did)."""
    broken: list[str] = []
    found = list(_iter_messages(records, local, lo, hi, pos, broken))
    return found, broken[0] if broken else None


def _iter_messages(
    records: bytes | memoryview, local: dict[int, Channel], lo: int, hi: int, pos: int, broken: list[str]
) -> Iterator[Message]:
    """The messages of a chunk's ``records`` (from record position ``pos``) on ``local``'s
    channels within ``[lo, hi]``; what broke the framing, if something did, is added to
    ``broken`` (the messages before it are kept). One ``unpack`` per record, payloads as views."""
    view = memoryview(records)
    unpack = MESSAGE_HEAD.unpack_from
    skip = MESSAGE_HEAD.size
    get = local.get
    for body, stop in message_records(records, pos, broken):
        cid, sequence, log_time, publish_time = unpack(records, body)
        channel = get(cid)
        if channel is not None and lo <= log_time <= hi:
            yield Message(channel, sequence, log_time, publish_time, view[body + skip : stop])
