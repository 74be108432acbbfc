"""Compressing an MCAP chunk's records, and giving up early on data that does not compress.

Camera frames already in JPEG/PNG, H.264 packets and random bytes do not shrink. Trying costs
CPU and, worse on a small VM, a fresh output buffer as large as the chunk for every chunk
(hundreds of page faults per MiB). So a chunk of more than ``PROBE_BYTES`` in several segments
(large payloads are kept as their own segments) is compressed one segment at a time; once the
first MiB is in, the block is flushed and, if it saved less than ``MIN_SAVING``, compression
stops and the chunk is stored raw (readers skip decompression). A chunk in one segment (small
messages only, or one payload) is compressed in one call.
Text, raw pixels and (with zstd) float state save more than that and are compressed whole;
lz4 gets next to nothing out of noisy floats, so such chunks are stored raw under lz4.

A compressor takes the chunk's segments (the small-message buffer and the large payloads kept
by reference) and returns the compressed frame as pieces to write in turn (never joined, so
never copied again), or None to store the chunk raw.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import lz4.frame
import zstandard

__all__ = ["MIN_SAVING", "PROBE_BYTES", "ChunkCompressor", "lz4_compressor", "zstd_compressor"]

PROBE_BYTES = 1 << 20  # input looked at before deciding whether the rest is worth compressing
MIN_SAVING = 0.02  # the probe must save at least this fraction of its bytes

Segment = bytes | bytearray | memoryview
ChunkCompressor = Callable[[Sequence[Segment], int], list[bytes] | None]


class _Stream(Protocol):
    """One compressed frame fed piece by piece: what zstd and lz4 have in common here."""

    def start(self) -> bytes: ...

    def feed(self, data: Segment) -> bytes: ...

    def end_block(self) -> bytes: ...

    def finish(self) -> bytes: ...


def _compress_segments(stream: _Stream, segments: Sequence[Segment], total: int) -> list[bytes] | None:
    pieces: list[bytes] = []  # non-empty only: each piece is a write() on a raw file
    fed = produced = 0
    probing = total > PROBE_BYTES

    def add(piece: bytes) -> None:
        nonlocal produced
        if piece:
            pieces.append(piece)
            produced += len(piece)

    add(stream.start())
    for segment in segments:
        add(stream.feed(segment))
        fed += len(segment)
        if probing and fed >= PROBE_BYTES:
            probing = False
            add(stream.end_block())  # what is still buffered, so the count is exact
            if produced > fed * (1 - MIN_SAVING):
                return None
    add(stream.finish())
    return pieces


class _ZstdStream:
    __slots__ = ("_stream",)

    def __init__(self, compressor: zstandard.ZstdCompressor, total: int) -> None:
        self._stream = compressor.compressobj(size=total)

    def start(self) -> bytes:
        return b""

    def feed(self, data: Segment) -> bytes:
        return self._stream.compress(data)

    def end_block(self) -> bytes:
        return self._stream.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)

    def finish(self) -> bytes:
        return self._stream.flush()


class _Lz4Stream:
    __slots__ = ("_stream", "_total")

    def __init__(self, total: int) -> None:
        # auto_flush: every feed returns all it took, so the probe's count is exact
        self._stream = lz4.frame.LZ4FrameCompressor(auto_flush=True)
        self._total = total

    def start(self) -> bytes:
        return self._stream.begin(self._total)

    def feed(self, data: Segment) -> bytes:
        return self._stream.compress(data)

    def end_block(self) -> bytes:
        return b""  # auto_flush leaves nothing buffered

    def finish(self) -> bytes:
        return self._stream.flush()


def _chunk_compressor(
    one_call: Callable[[Segment], bytes], stream: Callable[[int], _Stream]
) -> ChunkCompressor:
    def compress(segments: Sequence[Segment], total: int) -> list[bytes] | None:
        if len(segments) == 1:  # one call, one frame: nothing to probe between segments
            return [one_call(segments[0])]
        return _compress_segments(stream(total), segments, total)

    return compress


def zstd_compressor(level: int) -> ChunkCompressor:
    compressor = zstandard.ZstdCompressor(level=level)
    return _chunk_compressor(compressor.compress, lambda total: _ZstdStream(compressor, total))


def lz4_compressor() -> ChunkCompressor:
    return _chunk_compressor(lz4.frame.compress, _Lz4Stream)
