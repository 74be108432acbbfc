"""A lean, spec-exact MCAP writer for the recorder's hot path.

Why our own: ``mcap.writer.Writer`` costs ~3.8 µs per message, which is too much when a Zenoh
subscriber shares the GIL at 150k+ msg/s, and foxglove-sdk's writer cannot set ``publish_time`` or
``sequence``. This writer appends each Message record to a per-chunk ``bytearray`` with one
precompiled ``struct.pack`` and keeps the MessageIndex data as flat per-channel lists; everything
else (compression, CRCs, indexes, statistics) happens once per chunk.

Layout written (https://mcap.dev/spec): magic, Header, [Schema | Channel | Metadata |
Chunk + MessageIndex...]*, DataEnd, summary section (Schema, Channel,
Statistics, ChunkIndex, MetadataIndex groups), SummaryOffset records, Footer (with summary CRC),
magic. Each chunk carries the CRC of its records; the data-section CRC is left at 0 ("not
computed", as the spec allows): it would cost a second pass over every byte under the GIL, and
the chunk CRCs already cover every message.

Not thread-safe: one recorder thread owns a writer.
"""

from __future__ import annotations

import os
import struct
import sys
from array import array
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import BinaryIO, NoReturn

from .compression import ChunkCompressor, lz4_compressor, zstd_compressor
from .crc import crc32
from .records import (
    CHUNK_INDEX_HEAD,
    CHUNK_INDEX_TAIL,
    MAGIC,
    MESSAGE_INDEX_HEAD,
    PREFIX,
    STATISTICS_HEAD,
    SUMMARY_OFFSET_BODY,
    U16,
    U32,
    U64,
    Opcode,
)

__all__ = ["CHUNK_SIZE", "MAGIC", "McapWriter"]

CHUNK_SIZE = 4 << 20  # the default chunk size of every simrec writer (the recorders, the CLI)

# opcode u8, record length u64, channel_id u16, sequence u32, log_time u64, publish_time u64.
_MESSAGE_HEADER = struct.Struct("<BQHIQQ")
_MESSAGE_OVERHEAD = _MESSAGE_HEADER.size  # 31 bytes before the payload
_MESSAGE_FIXED = _MESSAGE_OVERHEAD - 9  # record length = this + len(data)
# Chunk record up to (and excluding) the compression string:
# message_start_time, message_end_time, uncompressed_size, uncompressed_crc.
_CHUNK_HEAD = struct.Struct("<BQQQQI")
_U16_U64 = struct.Struct("<HQ")

_LITTLE_ENDIAN_HOST = sys.byteorder == "little"
_MAX_ID = 0xFFFF

_COMPRESSIONS = {"zstd": "zstd", "lz4": "lz4", "none": "", "": ""}
# Payloads at least this big are not copied into the chunk buffer: the chunk keeps a reference
# and compresses, checksums and writes it in place, all with the GIL released. Copying a camera
# frame under the GIL would stall the subscriber thread that feeds the writer.
_SEPARATE_MIN = 64 * 1024


def _string(value: str) -> bytes:
    """MCAP String: uint32 byte length + UTF-8."""
    raw = value.encode("utf-8")
    return U32.pack(len(raw)) + raw


def _bytes_field(value: bytes) -> bytes:
    """MCAP Bytes with a uint32 length prefix (Schema.data)."""
    return U32.pack(len(value)) + value


def _string_map(values: dict[str, str]) -> bytes:
    """MCAP Map<string, string>: uint32 byte length of the entries, then key/value strings."""
    body = b"".join(_string(k) + _string(v) for k, v in values.items())
    return U32.pack(len(body)) + body


def _u16_u64_map(values: dict[int, int]) -> bytes:
    """MCAP Map<uint16, uint64> (ChunkIndex offsets, Statistics counts)."""
    body = b"".join(_U16_U64.pack(k, v) for k, v in values.items())
    return U32.pack(len(body)) + body


def _message_indexes(index: Iterable[tuple[int, list[int]]], pos: int) -> tuple[bytes, dict[int, int]]:
    """The MessageIndex records of a chunk (channel id -> flat ``[log_time, offset, ...]``) to be
    written at file offset ``pos``, and where each channel's record starts."""
    offsets: dict[int, int] = {}
    parts: list[bytes] = []
    for channel_id, entries in index:
        arr = array("Q", entries)
        if not _LITTLE_ENDIAN_HOST:
            arr.byteswap()
        body = arr.tobytes()
        offsets[channel_id] = pos
        pos += MESSAGE_INDEX_HEAD.size + len(body)
        parts.append(MESSAGE_INDEX_HEAD.pack(Opcode.MESSAGE_INDEX, 6 + len(body), channel_id, len(body)))
        parts.append(body)
    return b"".join(parts), offsets


def _write_after_close(channel_id: int, sequence: int, log_time: int, publish_time: int, data: bytes) -> None:
    raise RuntimeError("McapWriter is closed")


def _record(opcode: int, content: bytes) -> bytes:
    return PREFIX.pack(opcode, len(content)) + content


def _check_str_dict(values: dict[str, str], what: str) -> None:
    for k, v in values.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"{what} keys and values must be str, got {k!r}: {v!r}")


class McapWriter:
    """Write an MCAP file: chunked, indexed, with a full summary section.

    ``write()`` is the hot path (~0.5-0.7 µs for a 100-byte message); everything else is cold.
    A chunk is closed when the next message would push its records past ``chunk_size``, so a
    message larger than ``chunk_size`` sits in a chunk of its own; so does a message of a quarter
    of ``chunk_size`` or more (1 MiB of the default 4 MiB): a reader seeking to it decompresses
    that message alone, not the ones before it in a shared chunk (a random seek on 1 MiB state
    batches three to a chunk decompressed 2 MiB on average, twice what 1 MiB chunks cost), while
    small messages still fill 4 MiB chunks, which compress them better than 1 MiB ones (a flood
    of 100-byte messages: 4.0 MB against 5.9 MB). ``compression_level`` applies to
    zstd only: 2 by default, which compresses float32 state 1.5-3x faster than zstd's own default of
    3 for files 0.3-3% larger (benchmarks/compare.py); lz4 always uses its fast mode (its HC levels
    are far too slow for live recording). A
    chunk whose compressed form is not smaller than its raw records is stored uncompressed
    (``compression=""``), which the spec allows per chunk. Compression and CRCs release the GIL.

    ``OSError`` from the file (a full disk, say) propagates from whichever call hit it (write()
    closes chunks too). A chunk that fails to write is cut off the file again and stays open, so
    the file still ends in a whole record: ``discard_open_chunk()`` gives up its messages (and
    says how many, per channel) and ``close()`` then writes the summary into the space freed. If
    even that fails, the file is left ending after its last good chunk, readable by a scan.
    """

    # The hot path: write(channel_id, sequence, log_time, publish_time, data) -> None.
    # An instance attribute (a closure, see _bind_write) rather than a method, for speed.
    write: Callable[[int, int, int, int, bytes], None]

    __slots__ = (
        "_alone",
        "_buf",
        "_channel_counts",
        "_channel_records",
        "_chunk_count",
        "_chunk_indexes",
        "_closed",
        "_compress",
        "_compressed_total",
        "_compression",
        "_fh",
        "_index",
        "_limit",
        "_message_count",
        "_message_end",
        "_message_start",
        "_metadata_count",
        "_metadata_indexes",
        "_owns_fh",
        "_pieces",
        "_pieces_size",
        "_pos",
        "_schema_ids",
        "_schema_records",
        "_uncompressed_total",
        "write",
    )

    def __init__(
        self,
        output: str | os.PathLike[str] | BinaryIO,
        *,
        compression: str = "zstd",
        chunk_size: int = CHUNK_SIZE,
        profile: str = "",
        library: str = "simrec",
        compression_level: int = 2,
    ) -> None:
        if compression not in _COMPRESSIONS:
            raise ValueError(f"unknown compression {compression!r}; expected 'zstd', 'lz4' or 'none'")
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        self._compression = _COMPRESSIONS[compression]
        self._compress: ChunkCompressor | None
        if self._compression == "zstd":
            self._compress = zstd_compressor(compression_level)
        elif self._compression == "lz4":
            self._compress = lz4_compressor()
        else:
            self._compress = None
        # Close the open chunk before a message would push it past chunk_size (a larger
        # message then sits in a chunk of its own), and around a message of a quarter chunk or
        # more (see the class docstring).
        self._limit = chunk_size - _MESSAGE_OVERHEAD
        self._alone = max(_SEPARATE_MIN, chunk_size // 4)
        self._buf = bytearray()  # the open chunk's records since the last big payload
        # Earlier parts of the open chunk, in order: sealed record buffers and big payloads.
        self._pieces: list[bytes] = []
        self._pieces_size = [0]  # their total length; a list so the write closure can update it
        # channel id -> flat [log_time, offset, log_time, offset, ...] for the open chunk.
        self._index: dict[int, list[int]] = {}
        self._schema_ids: dict[tuple[str, str, bytes], int] = {}
        self._schema_records: list[bytes] = []
        self._channel_records: list[bytes] = []
        self._channel_counts: dict[int, int] = {}
        self._chunk_indexes: list[bytes] = []
        self._metadata_indexes: list[bytes] = []
        self._chunk_count = 0
        self._compressed_total = 0  # chunk payload bytes in the file, and what they held raw
        self._uncompressed_total = 0
        self._metadata_count = 0
        self._message_count = 0  # messages in already-written chunks
        self._message_start: int | None = None
        self._message_end = 0
        self._pos = 0
        self._closed = False
        self.write = self._bind_write()
        if isinstance(output, (str, os.PathLike)):
            # Unbuffered: a failed write must leave no bytes queued in a buffer that a later
            # flush would put after the rewound end of the file. Records are written whole.
            self._fh: BinaryIO = open(output, "wb", buffering=0)  # noqa: SIM115 - closed in close()
            self._owns_fh = True
        else:
            self._fh = output
            self._owns_fh = False
        try:
            self._write(MAGIC)
            self._write(_record(Opcode.HEADER, _string(profile) + _string(library)))
        except BaseException:
            if self._owns_fh:
                self._fh.close()
            raise

    # ------------------------------------------------------------------ hot path

    def _bind_write(self) -> Callable[[int, int, int, int, bytes], None]:
        """Build the hot-path ``write`` as a closure over locals.

        Why: cell-variable loads are cheaper than ``self._x`` attribute loads; this saves ~0.25 µs of
        ~1 µs per message. The chunk buffer and index dict are never rebound, only mutated.
        """
        index = self._index
        buf = self._buf
        pieces = self._pieces
        pieces_size = self._pieces_size
        limit = self._limit
        alone = self._alone
        pack = _MESSAGE_HEADER.pack
        message_op = int(Opcode.MESSAGE)
        make_room = self._make_room
        raise_bad_channel = self._raise_bad_channel

        def write(channel_id: int, sequence: int, log_time: int, publish_time: int, data: bytes) -> None:
            """Append one message (log_time/publish_time in ns; sequence stored mod 2**32)."""
            nonlocal buf  # += on a bytearray extends it in place; the binding never changes
            idx = index.get(channel_id)
            if idx is None:
                raise_bad_channel(channel_id)
            n = len(data)
            offset = pieces_size[0] + len(buf)
            # (a big message's payload is the last piece, with nothing after it in ``buf``)
            if offset and (offset + n > limit or n >= alone or (not buf and len(pieces[-1]) >= alone)):
                make_room()
                offset = 0
            # Pack first: a bad argument must not leave an index entry without a record.
            head = pack(
                message_op, _MESSAGE_FIXED + n, channel_id, sequence & 0xFFFFFFFF, log_time, publish_time
            )
            idx.append(log_time)
            idx.append(offset)
            buf += head
            if n < _SEPARATE_MIN:
                buf += data
            else:
                pieces.append(bytes(buf))
                pieces.append(data)
                pieces_size[0] += len(buf) + n
                buf.clear()

        return write

    def _raise_bad_channel(self, channel_id: int) -> NoReturn:
        if self._closed:
            raise RuntimeError("McapWriter is closed")
        raise ValueError(f"unknown channel id {channel_id!r}; register it with add_channel() first")

    def _make_room(self) -> None:
        if self._buf or self._pieces:
            self._finish_chunk()

    # ------------------------------------------------------------------ cold API

    def add_schema(self, name: str, encoding: str, data: bytes) -> int:
        """Register a schema and return its id (>= 1); identical (name, encoding, data) share an id."""
        self._check_open()
        key = (name, encoding, bytes(data))
        existing = self._schema_ids.get(key)
        if existing is not None:
            return existing
        schema_id = len(self._schema_records) + 1
        if schema_id > _MAX_ID:
            raise ValueError("too many schemas (MCAP schema ids are uint16)")
        record = _record(
            Opcode.SCHEMA, U16.pack(schema_id) + _string(name) + _string(encoding) + _bytes_field(key[2])
        )
        self._write_whole(record)
        self._schema_ids[key] = schema_id
        self._schema_records.append(record)
        return schema_id

    def add_channel(
        self, topic: str, message_encoding: str, schema_id: int, metadata: dict[str, str] | None = None
    ) -> int:
        """Register a channel and return its id; schema_id 0 means schemaless."""
        self._check_open()
        if schema_id != 0 and not 1 <= schema_id <= len(self._schema_records):
            raise ValueError(f"unknown schema id {schema_id!r}")
        metadata = dict(metadata or {})
        _check_str_dict(metadata, "channel metadata")
        channel_id = len(self._channel_records) + 1
        if channel_id > _MAX_ID:
            raise ValueError("too many channels (MCAP channel ids are uint16)")
        record = _record(
            Opcode.CHANNEL,
            U16.pack(channel_id)
            + U16.pack(schema_id)
            + _string(topic)
            + _string(message_encoding)
            + _string_map(metadata),
        )
        self._write_whole(record)
        self._channel_records.append(record)
        self._index[channel_id] = []
        return channel_id

    def add_metadata(self, name: str, values: dict[str, str]) -> None:
        """Write a Metadata record (indexed in the summary so readers find it without scanning)."""
        self._check_open()
        _check_str_dict(values, "metadata")
        record = _record(Opcode.METADATA, _string(name) + _string_map(values))
        offset = self._pos
        self._write_whole(record)
        self._metadata_count += 1
        self._metadata_indexes.append(
            _record(Opcode.METADATA_INDEX, U64.pack(offset) + U64.pack(len(record)) + _string(name))
        )

    def add_chunk(self, record: bytes | memoryview, index: dict[int, list[int]]) -> None:
        """Append a whole Chunk record as given, plus its MessageIndex records and ChunkIndex.

        Why: ``simrec recover`` copies the verified chunks of a damaged file without recompressing
        them. ``index`` maps channel id -> flat ``[log_time, offset, ...]`` (offsets into the
        chunk's uncompressed records) for every message in it; the caller vouches that it matches
        the chunk, whose framing alone is checked here. The open chunk is written first, so the
        file keeps the order of the calls. Cold path.
        """
        self._check_open()
        size = len(record)
        name_at = _CHUNK_HEAD.size + 4
        if size < name_at + 8:
            raise ValueError(f"not a Chunk record ({size} bytes)")
        opcode, length, start, end, uncompressed_size, _ = _CHUNK_HEAD.unpack_from(record)
        (name_len,) = U32.unpack_from(record, _CHUNK_HEAD.size)
        if opcode != Opcode.CHUNK or PREFIX.size + length != size or name_at + name_len + 8 > size:
            raise ValueError("not a whole Chunk record (its opcode or lengths are wrong)")
        comp = bytes(record[_CHUNK_HEAD.size : name_at + name_len])  # the String, length included
        (payload_size,) = U64.unpack_from(record, name_at + name_len)
        if name_at + name_len + 8 + payload_size != size:
            raise ValueError("not a whole Chunk record (its lengths do not add up)")
        if not index:
            raise ValueError("a chunk without messages has nothing to index")
        for channel_id, entries in index.items():
            if channel_id not in self._index:
                raise ValueError(f"unknown channel id {channel_id!r}; register it with add_channel() first")
            if not entries or len(entries) % 2:
                raise ValueError(f"channel {channel_id}: index must be [log_time, offset, ...] pairs")
        self._make_room()
        chunk_start = self._pos
        parts, offsets = _message_indexes(index.items(), chunk_start + size)
        try:
            self._write(record)
            self._write(parts)
        except OSError:
            self._rewind(chunk_start)
            raise
        self._chunk_written(
            index.items(),
            start,
            end,
            chunk_start,
            size,
            offsets,
            len(parts),
            comp,
            payload_size,
            uncompressed_size,
        )

    def flush(self) -> None:
        """Close the open chunk and flush the file, so every message so far is on disk in a full chunk."""
        self._check_open()
        self._make_room()
        self._fh.flush()

    def fileno(self) -> int:
        """The file descriptor, for ``os.fdatasync`` from another thread (writes go on meanwhile)."""
        return self._fh.fileno()

    def discard_open_chunk(self) -> dict[int, int]:
        """Drop the messages of the open chunk (after its write failed); returns channel id -> count."""
        counts = {cid: len(entries) // 2 for cid, entries in self._index.items() if entries}
        for entries in self._index.values():
            entries.clear()
        self._buf.clear()
        self._pieces.clear()
        self._pieces_size[0] = 0
        return counts

    def close(self) -> None:
        """Write the last chunk, DataEnd, summary and footer; closes the file if we opened it.

        Idempotent. If writing fails the writer is still marked closed (the file is unusable anyway).
        """
        if self._closed:
            return
        try:
            self._make_room()
            data_end = self._pos
            try:
                self._write(_record(Opcode.DATA_END, U32.pack(0)))
                self._write_summary()
                self._fh.flush()
            except OSError:
                self._rewind(data_end)
                raise
        finally:
            self._closed = True
            self._index.clear()
            self._buf.clear()
            self._pieces.clear()
            # The write closure refers back to this writer (a cycle only the cyclic GC would
            # free, late): drop it and the compressor now, so a split recording's finished
            # writers, each holding megabytes of zstd context, do not pile up.
            self.write = _write_after_close
            self._compress = None
            if self._owns_fh:
                self._fh.close()

    @property
    def open_chunk_bytes(self) -> int:
        """Uncompressed bytes of the open chunk's records (not yet in the file)."""
        return self._pieces_size[0] + len(self._buf)

    @property
    def first_log_time(self) -> int | None:
        """The earliest log time written so far (open chunk included); None while empty."""
        firsts = [entries[0] for entries in self._index.values() if entries]
        if self._message_start is not None:
            firsts.append(self._message_start)
        return min(firsts) if firsts else None

    @property
    def estimated_size(self) -> int:
        """The file's size once the open chunk is written, at the compression seen so far."""
        ratio = self._compressed_total / self._uncompressed_total if self._uncompressed_total else 1.0
        return self._pos + int(self.open_chunk_bytes * ratio)

    @property
    def bytes_written(self) -> int:
        """Bytes handed to the file so far (excludes the open, not yet compressed chunk)."""
        return self._pos

    @property
    def message_count(self) -> int:
        """Messages written so far, including those in the open chunk."""
        return self._message_count + sum(len(v) for v in self._index.values()) // 2

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> McapWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("McapWriter is closed")

    def _write(self, data: bytes | bytearray | memoryview) -> None:
        """Write all of ``data``, tracking the offset (big writes release the GIL)."""
        fh = self._fh
        size = len(data)
        written = fh.write(data)
        if written is not None and written < size:  # a raw file may take part of it
            # Released on the way out, even by an error: a live view would pin the chunk buffer.
            with memoryview(data) as view:
                while written < size:
                    with view[written:] as rest:
                        more = fh.write(rest)
                    if not more:
                        raise OSError(f"short write: {written} of {size} bytes")
                    written += more
        self._pos += size

    def _write_whole(self, record: bytes) -> None:
        """Write one record outside a chunk; if that fails (a full disk, part of it written), cut
        the file back so it ends in a whole record and later offsets stay true."""
        start = self._pos
        try:
            self._write(record)
        except OSError:
            self._rewind(start)
            raise

    def _rewind(self, pos: int) -> None:
        """Cut the file back to ``pos`` after a failed write, so it ends in a whole record."""
        try:
            self._fh.truncate(pos)
            self._fh.seek(pos)
            self._pos = pos
        except (OSError, ValueError):
            pass  # a pipe or a device: nothing to cut back

    def _finish_chunk(self) -> None:
        """Compress the open chunk and write Chunk + MessageIndex records; remember its ChunkIndex."""
        buf = self._buf
        segments: list[bytes | bytearray] = [*self._pieces, buf] if buf else list(self._pieces)
        uncompressed_size = self._pieces_size[0] + len(buf)
        crc = 0
        for segment in segments:
            crc = crc32(segment, crc)
        compression = self._compression
        payload: list[bytes | bytearray] = segments
        payload_size = uncompressed_size
        if self._compress is not None:
            compressed = self._compress(segments, uncompressed_size)
            compressed_size = sum(map(len, compressed)) if compressed is not None else uncompressed_size
            if compressed_size < uncompressed_size:
                payload, payload_size = compressed, compressed_size
            else:
                compression = ""  # incompressible: store raw, readers skip decompression
        # Per-channel timing and counts from the flat [t, off, t, off...] lists (C-speed slices).
        start = end = None
        index_blobs: list[tuple[int, list[int]]] = []
        for channel_id, entries in self._index.items():
            if not entries:
                continue
            times = entries[0::2]
            lo, hi = min(times), max(times)
            start = lo if start is None or lo < start else start
            end = hi if end is None or hi > end else end
            index_blobs.append((channel_id, entries))
        assert start is not None and end is not None
        comp = _string(compression)
        chunk_start = self._pos
        chunk_len = 9 + 8 + 8 + 8 + 4 + len(comp) + 8 + payload_size
        index_start = chunk_start + chunk_len
        parts, offsets = _message_indexes(index_blobs, index_start)
        try:
            self._write(
                _CHUNK_HEAD.pack(Opcode.CHUNK, chunk_len - 9, start, end, uncompressed_size, crc) + comp
            )
            self._write(U64.pack(payload_size))
            for segment in payload:
                self._write(segment)
            self._write(parts)
        except OSError:
            self._rewind(chunk_start)  # the chunk stays open; see discard_open_chunk()
            raise
        self._chunk_written(
            index_blobs,
            start,
            end,
            chunk_start,
            chunk_len,
            offsets,
            len(parts),
            comp,
            payload_size,
            uncompressed_size,
        )
        for _, entries in index_blobs:
            entries.clear()
        buf.clear()
        self._pieces.clear()
        self._pieces_size[0] = 0

    def _chunk_written(
        self,
        index: Iterable[tuple[int, list[int]]],
        start: int,
        end: int,
        chunk_start: int,
        chunk_len: int,
        offsets: dict[int, int],
        index_len: int,
        comp: bytes,
        payload_size: int,
        uncompressed_size: int,
    ) -> None:
        """Count a chunk just written (with its MessageIndex records) and remember its ChunkIndex."""
        counts = self._channel_counts
        for channel_id, entries in index:
            k = len(entries) // 2
            self._message_count += k
            counts[channel_id] = counts.get(channel_id, 0) + k
        self._chunk_indexes.append(
            _record(
                Opcode.CHUNK_INDEX,
                CHUNK_INDEX_HEAD.pack(start, end, chunk_start, chunk_len)
                + _u16_u64_map(offsets)
                + U64.pack(index_len)
                + comp
                + CHUNK_INDEX_TAIL.pack(payload_size, uncompressed_size),
            )
        )
        self._chunk_count += 1
        self._compressed_total += payload_size
        self._uncompressed_total += uncompressed_size
        if self._message_start is None or start < self._message_start:
            self._message_start = start
        if end > self._message_end:
            self._message_end = end

    def _write_summary(self) -> None:
        """Summary section + SummaryOffset records + Footer (with summary CRC) + closing magic."""
        summary_start = self._pos
        summary = bytearray()
        offsets = bytearray()

        def group(opcode: int, records: list[bytes]) -> None:
            if not records:
                return
            start = summary_start + len(summary)
            for r in records:
                summary.extend(r)
            offsets.extend(
                _record(
                    Opcode.SUMMARY_OFFSET,
                    SUMMARY_OFFSET_BODY.pack(opcode, start, summary_start + len(summary) - start),
                )
            )

        statistics = _record(
            Opcode.STATISTICS,
            STATISTICS_HEAD.pack(
                self._message_count,
                len(self._schema_records),
                len(self._channel_records),
                0,  # attachments
                self._metadata_count,
                self._chunk_count,
                self._message_start or 0,
                self._message_end,
            )
            + _u16_u64_map(self._channel_counts),
        )
        group(Opcode.SCHEMA, self._schema_records)
        group(Opcode.CHANNEL, self._channel_records)
        group(Opcode.STATISTICS, [statistics])
        group(Opcode.CHUNK_INDEX, self._chunk_indexes)
        group(Opcode.METADATA_INDEX, self._metadata_indexes)

        summary_offset_start = summary_start + len(summary)
        footer_head = struct.pack("<BQQQ", Opcode.FOOTER, 20, summary_start, summary_offset_start)
        summary_crc = crc32(footer_head, crc32(offsets, crc32(summary)))
        self._write(summary)
        self._write(offsets)
        self._write(footer_head + U32.pack(summary_crc))
        self._write(MAGIC)
