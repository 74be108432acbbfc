"""Read and decompress an MCAP file's records on a background thread.

File reads and zstd/lz4 decompression release the GIL, so on a second core they overlap with
the decoding and copying the caller does. The queue holds a few chunks at most, so memory
stays bounded; the thread stops (without being waited for) when the consumer stops early.

Records are walked by their length prefix: only chunks (their headers first, so a chunk
outside the time window is never read), messages, schemas and channels are parsed; message
indexes and the rest are skipped with a seek (mcap's parser costs a Python call per index entry,
which held the GIL against the consumer). The walk stops at the data section's end, so it needs
no footer: files a crashed recorder left behind read up to their last complete record.
"""

from __future__ import annotations

import io
import os
import queue
import struct
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO

import lz4.frame
import zstandard
from mcap.data_stream import ReadDataStream
from mcap.records import Channel, Message, Schema

from ..checksum import crc32

_DEPTH = 4  # chunks in flight
_END = object()
_PREFIX = struct.Struct("<BQ")
_CHUNK_HEAD = struct.Struct("<QQQII")  # start, end, uncompressed size, crc, compression's length
_U64 = struct.Struct("<Q")
_OP_SCHEMA, _OP_CHANNEL, _OP_MESSAGE, _OP_CHUNK = 0x03, 0x04, 0x05, 0x06
_OP_FOOTER, _OP_DATA_END = 0x02, 0x0F


class _Truncated(Exception):
    """The data section ends (or breaks) before a footer or a data-end record."""


def _decompress(
    compression: str, data: bytes, size: int, crc: int, zstd: zstandard.ZstdDecompressor
) -> bytes:
    """The chunk's records, checked against its CRC (when the writer stored one)."""
    if compression == "":
        out = data
    elif compression == "zstd":
        out = zstd.decompress(data, max_output_size=size)
    elif compression == "lz4":
        out = lz4.frame.decompress(data)
    else:
        raise ValueError(f"unsupported chunk compression {compression!r}")
    if len(out) != size:
        raise ValueError(f"{len(out)} bytes where the chunk says {size}")
    if crc and crc32(out) != crc:
        raise ValueError("CRC mismatch")
    return out


def _read(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise _Truncated(f"{n - len(data)} byte(s) missing at the end of the file")
    return data


def _record(opcode: int, body: bytes) -> Schema | Channel | Message:
    stream = ReadDataStream(io.BytesIO(body))
    if opcode == _OP_SCHEMA:
        return Schema.read(stream)
    if opcode == _OP_CHANNEL:
        return Channel.read(stream)
    return Message.read(stream, len(body))


def _walk(f: BinaryIO, size: int, lo: int, hi: int, zstd: zstandard.ZstdDecompressor) -> Iterator[tuple]:
    """Items from the file's current position to the end of its data section."""
    while True:
        pos = f.tell()
        head = f.read(_PREFIX.size)
        if not head:
            raise _Truncated("no footer")
        if len(head) < _PREFIX.size:
            raise _Truncated("a record's header is cut off")
        opcode, length = _PREFIX.unpack(head)
        end = pos + _PREFIX.size + length
        if end > size:
            raise _Truncated(f"a record of {length} bytes runs past the end of the file")
        if opcode in (_OP_DATA_END, _OP_FOOTER):
            return
        if opcode == _OP_CHUNK:
            start, stop, usize, crc, nlen = _CHUNK_HEAD.unpack(_read(f, _CHUNK_HEAD.size))
            compression = _read(f, nlen).decode("utf-8", "replace")
            (nbytes,) = _U64.unpack(_read(f, 8))
            if stop < lo or start > hi:
                f.seek(end)
                continue
            if f.tell() + nbytes > end:
                yield (
                    "problem",
                    f"a chunk before byte {end} is corrupt (bad length); its messages are lost",
                    end,
                )
                f.seek(end)
                continue
            data = _read(f, nbytes)
            f.seek(end)
            try:
                yield "chunk", _decompress(compression, data, usize, crc, zstd), end
            except Exception as exc:
                yield "problem", f"a chunk before byte {end} is corrupt ({exc}); its messages are lost", end
        elif opcode in (_OP_SCHEMA, _OP_CHANNEL, _OP_MESSAGE):
            yield "record", _record(opcode, _read(f, length)), end
        else:
            f.seek(end)


def records(
    path: os.PathLike[str] | str, lo: int, hi: int, offset: int | None = None
) -> Iterator[tuple[str, Any, int]]:
    """``(kind, value, byte offset)`` in file order: ``("chunk", decompressed bytes, pos)`` for
    chunks overlapping ``[lo, hi]``, ``("record", Message | Schema | Channel, pos)``, and
    ``("problem", one-line text, pos)`` for a corrupt chunk or a truncated tail.

    ``offset``: where to start (a record boundary in the data section); by default the first
    record after the magic.
    """
    out: queue.Queue = queue.Queue(maxsize=_DEPTH)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        size = os.path.getsize(path)
        zstd = zstandard.ZstdDecompressor()
        try:
            with open(path, "rb") as f:
                f.seek(8 if offset is None else offset)  # past the magic
                try:
                    for item in _walk(f, size, lo, hi, zstd):
                        if not put(item):
                            return
                except Exception as exc:  # truncated or corrupt data section: keep what was read
                    why = exc if isinstance(exc, _Truncated) else f"{type(exc).__name__}: {exc}"
                    text = (
                        f"{path} is truncated or corrupt after byte {f.tell()} of {size} "
                        f"({why}); messages after that point are lost"
                    )
                    put(("problem", text, f.tell()))
        finally:
            put(_END)

    thread = threading.Thread(target=produce, name="simrec-convert-read", daemon=True)
    thread.start()
    try:
        while (item := out.get()) is not _END:
            yield item
    finally:
        # A consumer that stops early (a seek wants one message) does not wait for the chunk
        # being decompressed: the thread sees ``stop`` at its next item and closes the file.
        stop.set()
    thread.join()
