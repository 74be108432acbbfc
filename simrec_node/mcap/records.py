"""The MCAP record layouts (https://mcap.dev/spec), parsed with bounds checks and no trust.

One ``Opcode`` enum, the magic, the fixed record heads as ``struct`` layouts, one
``DECOMPRESSORS`` table, and parsers for every record simrec reads. Every parser checks each
length against the enclosing record (or file) before it reads, so damaged bytes raise
``Damage`` or one of ``PARSE_ERRORS``, never a huge allocation or a read past the end.

Chunk checking is thread-safe: each thread has its own zstd decompressor (a shared one
crashes or returns wrong bytes under concurrent use).
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

import lz4.frame
import numpy as np
import zstandard

from .crc import crc32

Buffer = bytearray | memoryview | np.ndarray  # writable memory to decompress into

MAGIC = b"\x89MCAP0\r\n"


class Opcode(IntEnum):
    """MCAP record opcodes; 0x80-0xFF are private to applications."""

    HEADER = 0x01
    FOOTER = 0x02
    SCHEMA = 0x03
    CHANNEL = 0x04
    MESSAGE = 0x05
    CHUNK = 0x06
    MESSAGE_INDEX = 0x07
    CHUNK_INDEX = 0x08
    ATTACHMENT = 0x09
    ATTACHMENT_INDEX = 0x0A
    STATISTICS = 0x0B
    METADATA = 0x0C
    METADATA_INDEX = 0x0D
    SUMMARY_OFFSET = 0x0E
    DATA_END = 0x0F


_NAMES = {int(op): "".join(part.title() for part in op.name.split("_")) for op in Opcode}
_NAMES[Opcode.MESSAGE_INDEX] = "MessageIndex"

PREFIX = struct.Struct("<BQ")  # opcode, record length
FOOTER_BODY = struct.Struct("<QQI")  # summary_start, summary_offset_start, summary_crc
FOOTER_SIZE = PREFIX.size + FOOTER_BODY.size
MESSAGE_HEAD = struct.Struct("<HIQQ")  # channel_id, sequence, log_time, publish_time
CHUNK_HEAD = struct.Struct("<QQQII")  # start, end, uncompressed size, crc, compression length
CHUNK_INDEX_HEAD = struct.Struct("<QQQQ")  # start, end, chunk offset, chunk length
STATISTICS_HEAD = struct.Struct("<QHIIIIQQ")
MESSAGE_INDEX_HEAD = struct.Struct("<BQHI")  # opcode, length, channel id, entries' byte length
SUMMARY_OFFSET_BODY = struct.Struct("<BQQ")  # group opcode, group start, group length
DATA_END_BODY = struct.Struct("<I")  # data section CRC (0: none)
U16, U32, U64 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")
_U16_U64 = struct.Struct("<HQ")
CHUNK_INDEX_TAIL = struct.Struct("<QQ")  # compressed size, uncompressed size
# A chunk claiming more than this uncompressed is taken as damage (simrec writes 4 MiB chunks;
# one message larger than 4 GiB is not a log this reads).
MAX_CHUNK = 1 << 32

# What parsing a damaged record body can raise.
PARSE_ERRORS = (struct.error, UnicodeDecodeError, ValueError, OverflowError)


def opcode_name(opcode: int) -> str:
    return _NAMES.get(opcode, f"opcode 0x{opcode:02x}")


def valid_opcode(opcode: int) -> bool:
    """Spec opcodes and the private range (0x80-0xFF); anything else means we lost framing."""
    return opcode in _NAMES or opcode >= 0x80


class Damage(Exception):
    """A record that cannot be used; ``offset`` is where it starts in the file."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"{reason} at byte {offset}")
        self.offset = offset
        self.reason = reason


# ---------------------------------------------------------------- compression

_local = threading.local()


def _zstd(
    data: bytes | memoryview, size: int, limit: int | None = None, into: Buffer | None = None
) -> bytes | memoryview:
    decompressor = getattr(_local, "zstd", None)
    if decompressor is None:  # one per thread: zstandard's objects are not thread-safe
        decompressor = _local.zstd = zstandard.ZstdDecompressor()
    stated = zstandard.frame_content_size(data) if limit is None else -1
    if stated == size and into is not None:
        return _zstd_into(decompressor, data, memoryview(into)[:size])
    if stated >= 0:  # zstd sizes its buffer from the frame
        return decompressor.decompress(data, max_output_size=size)
    # No size in the frame: zstd would allocate the chunk's stated size up front, and that word
    # may be damage. Read it in pieces instead, never more than is there (plus one to tell).
    want = size + 1 if limit is None else min(limit, size)
    step = 1 << 20 if limit is None else 1 << 23  # a limit comes from an index: fewer, larger reads
    pieces, have = [], 0
    with decompressor.stream_reader(data) as reader:
        while have < want and (piece := reader.read(min(step, want - have))):
            pieces.append(piece)
            have += len(piece)
    return b"".join(pieces)


def _zstd_into(
    decompressor: zstandard.ZstdDecompressor, data: bytes | memoryview, out: memoryview
) -> memoryview:
    """``data`` decompressed into ``out`` (the frame states its size); short if it holds less."""
    have = 0
    with decompressor.stream_reader(data) as reader:
        while have < len(out) and (got := reader.readinto(out[have:])):
            have += got
    return out[:have]


def _lz4(data: bytes | memoryview, size: int, limit: int | None = None, into: Buffer | None = None) -> bytes:
    # Bounded by the chunk's stated size: a damaged frame header must not size the buffer.
    stated = lz4.frame.get_frame_info(data)["content_size"]
    if stated and stated != size:
        raise ValueError(f"the lz4 frame holds {stated} bytes where the chunk states {size}")
    decompressor = lz4.frame.LZ4FrameDecompressor()
    out = decompressor.decompress(data, max_length=size if limit is None else min(limit, size))
    if limit is None and not decompressor.eof:
        raise ValueError(f"the lz4 frame holds more than the {size} bytes the chunk states")
    return out


def _stored(
    data: bytes | memoryview, size: int, limit: int | None = None, into: Buffer | None = None
) -> bytes | memoryview:
    return data if limit is None else data[:limit]


# compression name -> (compressed bytes, stated uncompressed size, [limit], [into]) -> records
# (with a limit: only the first ``limit`` bytes of them, decompressed no further; ``into``: a
# writable buffer of at least the stated size that zstd decompresses into when the frame states
# that size, the records then being a view of it)
DECOMPRESSORS: dict[str, Callable[..., bytes | memoryview]] = {
    "": _stored,
    "zstd": _zstd,
    "lz4": _lz4,
}


# ---------------------------------------------------------------- chunks


class ChunkHeader(NamedTuple):
    """A Chunk record's fields, and where its compressed records lie in the file. (A named tuple,
    as ``ChunkIndexRecord``: opening a log makes one of each per chunk, and a frozen dataclass
    costs ~1 µs more to make, 0.6 ms of opening a log of 300 chunks.)"""

    offset: int  # of the record (opcode byte)
    length: int  # of the whole record, prefix included
    start_time: int
    end_time: int
    uncompressed_size: int
    crc: int
    compression: str
    data_start: int
    data_end: int


def parse_chunk_header(buf: object, offset: int, end: int) -> ChunkHeader:
    """The header of the Chunk record at ``offset``; Damage when its fields do not add up."""
    if offset + PREFIX.size + CHUNK_HEAD.size > end:
        raise Damage(offset, "truncated Chunk record")
    _, length = PREFIX.unpack_from(buf, offset)
    record_end = offset + PREFIX.size + length
    start, stop, usize, crc, clen = CHUNK_HEAD.unpack_from(buf, offset + PREFIX.size)
    at = offset + PREFIX.size + CHUNK_HEAD.size
    if clen > 8 or at + clen + 8 > min(record_end, end):
        raise Damage(offset, "malformed Chunk header")
    compression = bytes(buf[at : at + clen])  # type: ignore[index]
    if compression not in (b"", b"zstd", b"lz4") and not compression.isalnum():
        raise Damage(offset, "malformed Chunk header (compression name)")
    (data_len,) = U64.unpack_from(buf, at + clen)
    data_start = at + clen + 8
    if data_start + data_len != record_end:
        raise Damage(offset, "malformed Chunk header (sizes do not add up)")
    return ChunkHeader(
        offset, record_end - offset, start, stop, usize, crc, compression.decode(), data_start, record_end
    )


def looks_like_chunk(buf: object, offset: int, end: int) -> bool:
    """A cheap plausibility test used to find the next Chunk after damage."""
    try:
        head = parse_chunk_header(buf, offset, end)
    except (Damage, struct.error):
        return False
    return (
        head.data_end <= end
        and head.start_time <= head.end_time
        and head.uncompressed_size < MAX_CHUNK
        and head.compression in DECOMPRESSORS
    )


def find_next_chunk(buf: object, start: int, end: int) -> int | None:
    """Offset of the first plausible Chunk record in ``[start, end)``, or None."""
    find = buf.find  # type: ignore[attr-defined]
    pos = start
    while True:
        pos = find(b"\x06", pos, end)
        if pos < 0:
            return None
        if looks_like_chunk(buf, pos, end):
            return pos
        pos += 1


def decompress(head: ChunkHeader, data: bytes | memoryview, into: Buffer | None = None) -> bytes | memoryview:
    """The chunk's records, checked against its stated size and CRC; raises Damage otherwise.
    ``into``: a writable buffer of at least the stated size that may hold them (see
    ``DECOMPRESSORS``)."""
    method = DECOMPRESSORS.get(head.compression)
    if method is None:
        raise Damage(head.offset, f"unsupported chunk compression {head.compression!r}")
    if head.uncompressed_size > MAX_CHUNK:
        raise Damage(head.offset, f"a chunk that claims {head.uncompressed_size} bytes uncompressed")
    try:
        out = method(data, head.uncompressed_size, into=into)
    except Exception as exc:  # zstd/lz4 raise their own error types for corrupt frames
        raise Damage(head.offset, f"cannot decompress ({type(exc).__name__}: {exc})") from None
    if len(out) != head.uncompressed_size:
        raise Damage(
            head.offset, f"decompressed to {len(out)} bytes where the chunk says {head.uncompressed_size}"
        )
    if head.crc and crc32(out) != head.crc:
        raise Damage(head.offset, "CRC mismatch")
    return out


def decompress_prefix(head: ChunkHeader, data: bytes | memoryview, limit: int) -> bytes | memoryview:
    """The first ``limit`` bytes of the chunk's records, decompressed no further: what a lookup of
    one record near the start of a chunk needs. Unchecked (the CRC covers the whole records), so
    the caller checks what it reads against the index that sent it there; Damage when the
    compression is unknown or the data do not decompress."""
    method = DECOMPRESSORS.get(head.compression)
    if method is None:
        raise Damage(head.offset, f"unsupported chunk compression {head.compression!r}")
    try:
        return method(data, min(head.uncompressed_size, MAX_CHUNK), limit)
    except Exception as exc:  # zstd/lz4 raise their own error types for corrupt frames
        raise Damage(head.offset, f"cannot decompress ({type(exc).__name__}: {exc})") from None


def chunk_records(buf: object, head: ChunkHeader) -> bytes | memoryview:
    """The chunk's records from the mapped file, checked. Compressed data is read through a view
    of the map (the decompressor makes the only copy); stored records are copied out, so no view
    outlives this call."""
    if not head.compression:
        return decompress(head, buf[head.data_start : head.data_end])  # type: ignore[index]
    with memoryview(buf) as whole, whole[head.data_start : head.data_end] as data:  # type: ignore[arg-type]
        return decompress(head, data)


def split_records(buf: bytes | memoryview, base: int = 0) -> list[tuple[int, int, int]]:
    """``(opcode, body_start, body_end)`` for each record in ``buf``; Damage (at ``base``) if one
    overruns the buffer or a Message record is too short to hold its header."""
    out = []
    pos, end = 0, len(buf)
    unpack = PREFIX.unpack_from
    append = out.append
    message = int(Opcode.MESSAGE)
    while pos < end:
        if pos + 9 > end:
            raise Damage(base, "a record inside the chunk is cut off")
        opcode, length = unpack(buf, pos)
        start = pos + 9
        pos = start + length
        if pos > end:
            raise Damage(base, f"a {opcode_name(opcode)} record inside the chunk overruns it")
        if opcode == message and length < MESSAGE_HEAD.size:
            raise Damage(base, "a Message record inside the chunk is too short")
        append((opcode, start, pos))
    return out


# ---------------------------------------------------------------- record bodies


def record_span(buf: object, offset: int, end: int, opcode: int) -> tuple[int, int]:
    """``(body_start, body_end)`` of the ``opcode`` record at ``offset``, an index's pointer
    followed; ``struct.error`` when no such record lies there whole before ``end``."""
    if offset < 0 or offset + PREFIX.size > end:
        raise struct.error(f"no room for a record at byte {offset}")
    found, length = PREFIX.unpack_from(buf, offset)  # type: ignore[arg-type]
    body_end = offset + PREFIX.size + length
    if found != opcode or body_end > end:
        raise struct.error(f"no {opcode_name(opcode)} record at byte {offset}")
    return offset + PREFIX.size, body_end


def parse_message_head(buf: object, start: int, end: int) -> tuple[int, int, int, int]:
    """``(channel_id, sequence, log_time, publish_time)`` of a Message record body."""
    if end - start < MESSAGE_HEAD.size:
        raise struct.error("Message record too short")
    return MESSAGE_HEAD.unpack_from(buf, start)  # type: ignore[arg-type,return-value]


def message_head_at(buf: object, offset: int, end: int) -> tuple[int, int, int, int]:
    """``(channel_id, sequence, log_time, publish_time)`` of the Message record at ``offset``,
    from its head alone (its payload may lie past ``end``); ``struct.error`` if none is there."""
    if offset < 0 or offset + PREFIX.size + MESSAGE_HEAD.size > end:
        raise struct.error(f"no room for a Message head at byte {offset}")
    opcode, length = PREFIX.unpack_from(buf, offset)  # type: ignore[arg-type]
    if opcode != Opcode.MESSAGE or length < MESSAGE_HEAD.size:
        raise struct.error(f"no Message record at byte {offset}")
    return MESSAGE_HEAD.unpack_from(buf, offset + PREFIX.size)  # type: ignore[arg-type,return-value]


def parse_summary_offset(buf: object, start: int, end: int) -> tuple[int, int, int]:
    """``(group opcode, group start, group length)`` of a SummaryOffset record body."""
    if start + SUMMARY_OFFSET_BODY.size > end:
        raise struct.error("SummaryOffset record too short")
    return SUMMARY_OFFSET_BODY.unpack_from(buf, start)  # type: ignore[arg-type,return-value]


def parse_data_end(buf: object, start: int, end: int) -> int:
    """The data section CRC a DataEnd record body states (0: none)."""
    if start + DATA_END_BODY.size > end:
        raise struct.error("DataEnd record too short")
    return DATA_END_BODY.unpack_from(buf, start)[0]  # type: ignore[arg-type,no-any-return]


def read_string(buf: object, pos: int, end: int) -> tuple[str, int]:
    (n,) = U32.unpack_from(buf, pos)
    pos += 4
    if pos + n > end:
        raise struct.error("string runs past its record")
    return bytes(buf[pos : pos + n]).decode("utf-8"), pos + n  # type: ignore[index]


def read_string_map(buf: object, pos: int, end: int) -> tuple[dict[str, str], int]:
    (n,) = U32.unpack_from(buf, pos)
    pos += 4
    stop = pos + n
    if stop > end:
        raise struct.error("map runs past its record")
    out = {}
    while pos < stop:
        key, pos = read_string(buf, pos, stop)
        value, pos = read_string(buf, pos, stop)
        out[key] = value
    return out, stop


def read_int_map(buf: object, pos: int, end: int) -> tuple[dict[int, int], int]:
    """Map<uint16, uint64> (ChunkIndex offsets, Statistics counts)."""
    (n,) = U32.unpack_from(buf, pos)
    pos += 4
    stop = pos + n
    if stop > end or n % 10:
        raise struct.error("map runs past its record")
    return dict(_U16_U64.iter_unpack(buf[pos:stop])), stop  # type: ignore[index]


@dataclass(frozen=True, slots=True)
class SchemaRecord:
    id: int
    name: str
    encoding: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    id: int
    schema_id: int
    topic: str
    message_encoding: str
    metadata: dict[str, str]


class ChunkIndexRecord(NamedTuple):
    start_time: int
    end_time: int
    chunk_offset: int
    chunk_length: int
    message_index_offsets: dict[int, int]
    message_index_length: int
    compression: str
    compressed_size: int
    uncompressed_size: int


@dataclass(frozen=True, slots=True)
class StatisticsRecord:
    message_count: int
    schema_count: int
    channel_count: int
    attachment_count: int
    metadata_count: int
    chunk_count: int
    message_start_time: int
    message_end_time: int
    channel_message_counts: dict[int, int]


@dataclass(frozen=True, slots=True)
class MetadataIndexRecord:
    offset: int
    length: int
    name: str


def parse_schema(buf: object, start: int, end: int) -> SchemaRecord:
    (sid,) = U16.unpack_from(buf, start)
    name, pos = read_string(buf, start + 2, end)
    encoding, pos = read_string(buf, pos, end)
    (n,) = U32.unpack_from(buf, pos)
    if pos + 4 + n > end:
        raise struct.error("schema data runs past its record")
    return SchemaRecord(sid, name, encoding, bytes(buf[pos + 4 : pos + 4 + n]))  # type: ignore[index]


def parse_channel(buf: object, start: int, end: int) -> ChannelRecord:
    cid, sid = struct.unpack_from("<HH", buf, start)  # type: ignore[arg-type]
    topic, pos = read_string(buf, start + 4, end)
    encoding, pos = read_string(buf, pos, end)
    metadata, _ = read_string_map(buf, pos, end)
    return ChannelRecord(cid, sid, topic, encoding, metadata)


def parse_metadata(buf: object, start: int, end: int) -> tuple[str, dict[str, str]]:
    name, pos = read_string(buf, start, end)
    values, _ = read_string_map(buf, pos, end)
    return name, values


def parse_header(buf: object, start: int, end: int) -> tuple[str, str]:
    """``(profile, library)`` of a Header record."""
    profile, pos = read_string(buf, start, end)
    library, _ = read_string(buf, pos, end)
    return profile, library


def parse_chunk_index(buf: object, start: int, end: int) -> ChunkIndexRecord:
    start_t, end_t, offset, length = CHUNK_INDEX_HEAD.unpack_from(buf, start)  # type: ignore[arg-type]
    offsets, pos = read_int_map(buf, start + CHUNK_INDEX_HEAD.size, end)
    (index_length,) = U64.unpack_from(buf, pos)  # type: ignore[arg-type]
    compression, pos = read_string(buf, pos + 8, end)
    if pos + CHUNK_INDEX_TAIL.size > end:
        raise struct.error("ChunkIndex runs past its record")
    compressed, uncompressed = CHUNK_INDEX_TAIL.unpack_from(buf, pos)  # type: ignore[arg-type]
    return ChunkIndexRecord(
        start_t, end_t, offset, length, offsets, index_length, compression, compressed, uncompressed
    )


def parse_statistics(buf: object, start: int, end: int) -> StatisticsRecord:
    if start + STATISTICS_HEAD.size > end:
        raise struct.error("Statistics record too short")
    fields = STATISTICS_HEAD.unpack_from(buf, start)  # type: ignore[arg-type]
    counts, _ = read_int_map(buf, start + STATISTICS_HEAD.size, end)
    return StatisticsRecord(*fields, counts)


def parse_metadata_index(buf: object, start: int, end: int) -> MetadataIndexRecord:
    if start + 16 > end:
        raise struct.error("MetadataIndex record too short")
    offset, length = struct.unpack_from("<QQ", buf, start)  # type: ignore[arg-type]
    name, _ = read_string(buf, start + 16, end)
    return MetadataIndexRecord(offset, length, name)


def parse_message_index(buf: object, offset: int, end: int, channel_id: int | None = None) -> np.ndarray:
    """The ``(log_time, offset)`` pairs of the MessageIndex record at ``offset`` as an ``[n, 2]``
    uint64 array (one ``frombuffer``, no Python call per entry); ``struct.error`` when the record
    there is not a MessageIndex (of ``channel_id``) that fits before ``end``."""
    if offset + MESSAGE_INDEX_HEAD.size > end:
        raise struct.error(f"no room for a MessageIndex at byte {offset}")
    opcode, length, cid, nbytes = MESSAGE_INDEX_HEAD.unpack_from(buf, offset)  # type: ignore[arg-type]
    body = offset + MESSAGE_INDEX_HEAD.size
    if (
        opcode != Opcode.MESSAGE_INDEX
        or (channel_id is not None and cid != channel_id)
        or nbytes % 16
        or 6 + nbytes > length
        or offset + PREFIX.size + length > end
    ):
        raise struct.error(f"expected a MessageIndex record at byte {offset}")
    # copied: a view would pin the caller's mmap open
    return np.frombuffer(buf, dtype="<u8", count=nbytes // 8, offset=body).reshape(-1, 2).copy()  # type: ignore[arg-type]
