"""Where a read that starts late in an indexed file can begin, so it need not stream from byte 0.

The summary section's chunk indexes give each chunk's time range, offset and the channels in it:
reading starts at the first chunk (in file order) that can hold a wanted message at or after the
start time, and inside it at the first such message (from the chunk's message indexes). Skipped
chunks also hold the schema and channel records, so those come from the summary instead.

The jump is only taken when it provably skips nothing wanted: no message lies outside a chunk
before it (the records between chunks are hopped over by length to check). Anything
else (no footer, no summary, an odd layout) returns None and the caller streams as before.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from mcap.data_stream import ReadDataStream
from mcap.records import Channel, Schema, Statistics

_MAGIC = b"\x89MCAP0\r\n"
_PREFIX = struct.Struct("<BQ")
_FOOTER = struct.Struct("<BQQQI")  # opcode, length, summary start, summary offset start, crc
_CHUNK_INDEX = struct.Struct("<QQQQI")  # start, end, chunk offset, chunk length, offsets' byte length
_INDEX_ENTRY = np.dtype([("channel", "<u2"), ("offset", "<u8")])
_INDEX_HEAD = struct.Struct("<BQHI")  # message index: opcode, length, channel id, entries' byte length
_OP_FOOTER, _OP_SCHEMA, _OP_CHANNEL, _OP_MESSAGE = 0x02, 0x03, 0x04, 0x05
_OP_MESSAGE_INDEX, _OP_CHUNK_INDEX, _OP_STATISTICS = 0x07, 0x08, 0x0B


@dataclass(frozen=True)
class SeekPlan:
    """Start reading at byte ``offset`` (a chunk); in the chunk that ends at ``chunk_end``, start
    at record position ``skip``. ``schemas`` and ``channels`` are all the file's, from its summary.
    """

    offset: int
    chunk_end: int
    skip: int
    schemas: list[Schema]
    channels: list[Channel]


@dataclass(frozen=True)
class _ChunkIndex:
    start_time: int
    end_time: int
    offset: int
    length: int
    index_offsets: dict[int, int]  # channel id -> its message index record's file offset
    index_length: int


def plan_seek(f: BinaryIO, size: int, lo: int, topics: set[str]) -> SeekPlan | None:
    """Where to start reading messages of ``topics`` logged at or after ``lo`` (ns); None when
    the file must be streamed from the start."""
    summary = _summary(f, size)
    if summary is None:
        return None
    schemas, channels, chunks, counts = summary
    known = {c.id for c in channels}
    if not chunks or any(n and cid not in known for cid, n in counts.items()):
        return None
    chunks.sort(key=lambda c: c.offset)
    wanted = {c.id for c in channels if c.topic in topics}
    checked = len(_MAGIC)  # no loose message between the magic and here
    for ci in chunks:
        if _messages_between(f, checked, ci.offset):
            return None  # a message outside any chunk: the index does not cover it
        checked = ci.offset + ci.length + ci.index_length
        if ci.end_time < lo or (ci.index_offsets and wanted.isdisjoint(ci.index_offsets)):
            continue
        skip = _first_record(f, ci, wanted, lo)
        if skip is not None:
            return SeekPlan(ci.offset, ci.offset + ci.length, skip, schemas, channels)
    return SeekPlan(checked, -1, 0, schemas, channels)


def _summary(
    f: BinaryIO, size: int
) -> tuple[list[Schema], list[Channel], list[_ChunkIndex], dict[int, int]] | None:
    tail = _FOOTER.size + len(_MAGIC)
    if size < len(_MAGIC) + tail:
        return None
    f.seek(size - tail)
    data = f.read(tail)
    if data[-len(_MAGIC) :] != _MAGIC:
        return None
    opcode, _, start, offsets_start, _ = _FOOTER.unpack_from(data)
    stop = offsets_start or size - tail
    if opcode != _OP_FOOTER or not 0 < start <= stop <= size - tail:
        return None
    f.seek(start)
    buf = f.read(stop - start)
    schemas, channels, chunks, counts = [], [], [], None
    pos = 0
    while pos + _PREFIX.size <= len(buf):
        opcode, length = _PREFIX.unpack_from(buf, pos)
        body = pos + _PREFIX.size
        pos = body + length
        if pos > len(buf):
            return None
        if opcode == _OP_CHUNK_INDEX:
            chunks.append(_chunk_index(buf, body))
        elif opcode == _OP_SCHEMA:
            schemas.append(Schema.read(_stream(buf, body, pos)))
        elif opcode == _OP_CHANNEL:
            channels.append(Channel.read(_stream(buf, body, pos)))
        elif opcode == _OP_STATISTICS:
            counts = Statistics.read(_stream(buf, body, pos)).channel_message_counts
    if counts is None:
        return None
    return schemas, channels, chunks, counts


def _stream(buf: bytes, start: int, end: int) -> ReadDataStream:
    return ReadDataStream(io.BytesIO(buf[start:end]))


def _chunk_index(buf: bytes, pos: int) -> _ChunkIndex:
    start, end, offset, length, nbytes = _CHUNK_INDEX.unpack_from(buf, pos)
    pos += _CHUNK_INDEX.size
    entries = np.frombuffer(buf, dtype=_INDEX_ENTRY, count=nbytes // _INDEX_ENTRY.itemsize, offset=pos)
    (index_length,) = struct.unpack_from("<Q", buf, pos + nbytes)
    offsets = dict(zip(entries["channel"].tolist(), entries["offset"].tolist(), strict=True))
    return _ChunkIndex(start, end, offset, length, offsets, index_length)


def _messages_between(f: BinaryIO, pos: int, end: int) -> bool:
    """Whether a message record lies between bytes ``pos`` and ``end`` (record boundaries), or
    the records there do not line up with ``end`` (then nothing is certain)."""
    while pos < end:
        f.seek(pos)
        head = f.read(_PREFIX.size)
        if len(head) < _PREFIX.size:
            return True
        opcode, length = _PREFIX.unpack(head)
        if opcode == _OP_MESSAGE:
            return True
        pos += _PREFIX.size + length
    return pos != end


def _first_record(f: BinaryIO, ci: _ChunkIndex, wanted: set[int], lo: int) -> int | None:
    """Position in the chunk's records of its first wanted message at or after ``lo``: None when
    its message indexes say there is none, 0 when it has no (readable) index to tell."""
    cids = [cid for cid in wanted if cid in ci.index_offsets]
    if not ci.index_offsets:
        return 0
    base = ci.offset + ci.length
    f.seek(base)
    buf = f.read(ci.index_length)
    first: int | None = None
    for cid in cids:
        at = ci.index_offsets[cid] - base
        if at < 0 or at + _INDEX_HEAD.size > len(buf):
            return 0
        opcode, _, channel_id, nbytes = _INDEX_HEAD.unpack_from(buf, at)
        if opcode != _OP_MESSAGE_INDEX or channel_id != cid or at + _INDEX_HEAD.size + nbytes > len(buf):
            return 0
        pairs = np.frombuffer(buf, dtype="<u8", count=nbytes // 8, offset=at + _INDEX_HEAD.size)
        times, offsets = pairs[0::2], pairs[1::2]
        later = offsets[times >= lo]
        if later.size:
            first = int(later.min()) if first is None else min(first, int(later.min()))
    return first
