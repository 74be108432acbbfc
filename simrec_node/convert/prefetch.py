"""Read and decompress an MCAP file's records on a background thread.

File reads and zstd/lz4 decompression release the GIL, so on a second core they overlap with
the decoding and copying the caller does. The queue holds a few chunks at most, so memory
stays bounded; the thread stops when the consumer stops early.
"""

from __future__ import annotations

import os
import queue
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import lz4.frame
import zstandard
from mcap.records import Channel, Chunk, Message, Schema
from mcap.stream_reader import StreamReader

_DEPTH = 4  # chunks in flight
_WANTED = (Message, Schema, Channel)
_END = object()


def _decompress(chunk: Chunk, zstd: zstandard.ZstdDecompressor) -> bytes:
    """The chunk's records, checked against its CRC (when the writer stored one)."""
    if chunk.compression == "":
        data = chunk.data
    elif chunk.compression == "zstd":
        data = zstd.decompress(chunk.data, max_output_size=chunk.uncompressed_size)
    elif chunk.compression == "lz4":
        data = lz4.frame.decompress(chunk.data)
    else:
        raise ValueError(f"unsupported chunk compression {chunk.compression!r}")
    if len(data) != chunk.uncompressed_size:
        raise ValueError(f"{len(data)} bytes where the chunk says {chunk.uncompressed_size}")
    if chunk.uncompressed_crc and zlib.crc32(data) != chunk.uncompressed_crc:
        raise ValueError("CRC mismatch")
    return data


def _item(record: object, pos: int, zstd: zstandard.ZstdDecompressor, lo: int, hi: int) -> tuple | None:
    if isinstance(record, Chunk):
        if record.message_end_time < lo or record.message_start_time > hi:
            return None
        try:
            return "chunk", _decompress(record, zstd), pos
        except Exception as exc:
            return "problem", f"a chunk before byte {pos} is corrupt ({exc}); its messages are lost", pos
    if isinstance(record, _WANTED):
        return "record", record, pos
    return None


def records(path: os.PathLike[str] | str, lo: int, hi: int) -> Iterator[tuple[str, Any, int]]:
    """``(kind, value, byte offset)`` in file order: ``("chunk", decompressed bytes, pos)`` for
    chunks overlapping ``[lo, hi]``, ``("record", Message | Schema | Channel, pos)``, and
    ``("problem", one-line text, pos)`` for a corrupt chunk or a truncated tail.
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
                reader = StreamReader(f, emit_chunks=True, record_size_limit=max(size, 1))
                try:
                    for record in reader.records:
                        item = _item(record, f.tell(), zstd, lo, hi)
                        if item is not None and not put(item):
                            return
                except Exception as exc:  # truncated or corrupt data section: keep what was read
                    text = (
                        f"{path} is truncated or corrupt after byte {f.tell()} of {size} "
                        f"({type(exc).__name__}: {exc}); messages after that point are lost"
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
        stop.set()
        thread.join()
