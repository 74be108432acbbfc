"""Byte-level MCAP parsing that tolerates damage: record framing, chunk checks, resync.

``mcap``'s StreamReader stops at the first bad byte and cannot say where a record started, so
recovery and checking walk the file themselves over an ``mmap``: every record is bounds-checked
against the file (or the enclosing region) before it is read, a chunk counts only when it
decompresses to its stated size and matches its CRC, and after a damaged record the walk can
look for the next plausible Chunk record and carry on.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import lz4.frame
import zstandard

from ..mcap.crc import crc32

MAGIC = b"\x89MCAP0\r\n"

OP_HEADER, OP_FOOTER, OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
OP_MESSAGE_INDEX, OP_CHUNK_INDEX, OP_ATTACHMENT, OP_ATTACHMENT_INDEX = 0x07, 0x08, 0x09, 0x0A
OP_STATISTICS, OP_METADATA, OP_METADATA_INDEX, OP_SUMMARY_OFFSET, OP_DATA_END = 0x0B, 0x0C, 0x0D, 0x0E, 0x0F

OPCODE_NAMES = {
    OP_HEADER: "Header",
    OP_FOOTER: "Footer",
    OP_SCHEMA: "Schema",
    OP_CHANNEL: "Channel",
    OP_MESSAGE: "Message",
    OP_CHUNK: "Chunk",
    OP_MESSAGE_INDEX: "MessageIndex",
    OP_CHUNK_INDEX: "ChunkIndex",
    OP_ATTACHMENT: "Attachment",
    OP_ATTACHMENT_INDEX: "AttachmentIndex",
    OP_STATISTICS: "Statistics",
    OP_METADATA: "Metadata",
    OP_METADATA_INDEX: "MetadataIndex",
    OP_SUMMARY_OFFSET: "SummaryOffset",
    OP_DATA_END: "DataEnd",
}

PREFIX = struct.Struct("<BQ")  # opcode, record length
FOOTER_SIZE = PREFIX.size + 20  # summary_start, summary_offset_start, summary_crc
MESSAGE_HEAD = struct.Struct("<HIQQ")  # channel_id, sequence, log_time, publish_time
CHUNK_HEAD = struct.Struct("<QQQII")  # start, end, uncompressed size, crc, compression length
U16, U32, U64 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")
_COMPRESSIONS = (b"", b"zstd", b"lz4")
# A chunk claiming more than this uncompressed is taken as garbage when resyncing.
_MAX_CHUNK = 1 << 36


def opcode_name(opcode: int) -> str:
    return OPCODE_NAMES.get(opcode, f"opcode 0x{opcode:02x}")


def valid_opcode(opcode: int) -> bool:
    """Spec opcodes and the private range (0x80-0xFF); anything else means we lost framing."""
    return opcode in OPCODE_NAMES or opcode >= 0x80


class Damage(Exception):
    """A record that cannot be used; ``offset`` is where it starts in the file."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"{reason} at byte {offset}")
        self.offset = offset
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ChunkHeader:
    """A Chunk record's fields, and where its compressed records lie in the file."""

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
    compression = bytes(buf[at : at + clen])
    if compression not in _COMPRESSIONS and not compression.isalnum():
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
        and head.uncompressed_size < _MAX_CHUNK
        and head.compression in ("", "zstd", "lz4")
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


_zstd = zstandard.ZstdDecompressor()


def decompress(
    head: ChunkHeader, data: bytes | memoryview, decompressor: zstandard.ZstdDecompressor = _zstd
) -> bytes | memoryview:
    """The chunk's records, checked against its stated size and CRC; raises Damage otherwise."""
    try:
        if head.compression == "":
            out = data
        elif head.compression == "zstd":
            out = decompressor.decompress(data, max_output_size=head.uncompressed_size)
        elif head.compression == "lz4":
            out = lz4.frame.decompress(data)
        else:
            raise Damage(head.offset, f"unsupported chunk compression {head.compression!r}")
    except Damage:
        raise
    except Exception as exc:  # zstd/lz4 raise their own error types for corrupt frames
        raise Damage(head.offset, f"cannot decompress ({type(exc).__name__}: {exc})") from None
    if len(out) != head.uncompressed_size:
        raise Damage(
            head.offset, f"decompressed to {len(out)} bytes where the chunk says {head.uncompressed_size}"
        )
    if head.crc and crc32(out) != head.crc:
        raise Damage(head.offset, "CRC mismatch")
    return out


def split_records(buf: bytes | memoryview, base: int = 0) -> list[tuple[int, int, int]]:
    """``(opcode, body_start, body_end)`` for each record in ``buf``; Damage (at ``base``) if one
    overruns the buffer or a Message record is too short to hold its header."""
    out = []
    pos, end = 0, len(buf)
    unpack = PREFIX.unpack_from
    append = out.append
    while pos < end:
        if pos + 9 > end:
            raise Damage(base, "a record inside the chunk is cut off")
        opcode, length = unpack(buf, pos)
        start = pos + 9
        pos = start + length
        if pos > end:
            raise Damage(base, f"a {opcode_name(opcode)} record inside the chunk overruns it")
        if opcode == OP_MESSAGE and length < MESSAGE_HEAD.size:
            raise Damage(base, "a Message record inside the chunk is too short")
        append((opcode, start, pos))
    return out


# ---------------------------------------------------------------- record bodies


def read_string(buf: object, pos: int, end: int) -> tuple[str, int]:
    (n,) = U32.unpack_from(buf, pos)
    pos += 4
    if pos + n > end:
        raise struct.error("string runs past its record")
    return bytes(buf[pos : pos + n]).decode("utf-8"), pos + n


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
    return {k: v for k, v in struct.iter_unpack("<HQ", bytes(buf[pos:stop]))}, stop


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


def parse_schema(buf: object, start: int, end: int) -> SchemaRecord:
    (sid,) = U16.unpack_from(buf, start)
    name, pos = read_string(buf, start + 2, end)
    encoding, pos = read_string(buf, pos, end)
    (n,) = U32.unpack_from(buf, pos)
    if pos + 4 + n > end:
        raise struct.error("schema data runs past its record")
    return SchemaRecord(sid, name, encoding, bytes(buf[pos + 4 : pos + 4 + n]))


def parse_channel(buf: object, start: int, end: int) -> ChannelRecord:
    cid, sid = struct.unpack_from("<HH", buf, start)
    topic, pos = read_string(buf, start + 4, end)
    encoding, pos = read_string(buf, pos, end)
    metadata, _ = read_string_map(buf, pos, end)
    return ChannelRecord(cid, sid, topic, encoding, metadata)


def parse_metadata(buf: object, start: int, end: int) -> tuple[str, dict[str, str]]:
    name, pos = read_string(buf, start, end)
    values, _ = read_string_map(buf, pos, end)
    return name, values


# What parsing a damaged record body can raise.
PARSE_ERRORS = (struct.error, UnicodeDecodeError, ValueError)
