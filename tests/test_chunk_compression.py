"""Chunk compression: frames that decompress to the chunk, and an early stop on data that
does not compress (camera JPEGs, random bytes) so the chunk is stored raw."""

from __future__ import annotations

import os

import lz4.frame
import numpy as np
import pytest
import zstandard

from simrec_node.mcap.compression import PROBE_BYTES, lz4_compressor, zstd_compressor

COMPRESSORS = {"zstd": lambda: zstd_compressor(2), "lz4": lz4_compressor}
DECOMPRESS = {
    "zstd": lambda data: zstandard.ZstdDecompressor().decompress(data),
    "lz4": lz4.frame.decompress,
}


def _state(n: int, seed: int) -> bytes:
    """Float state that both codecs compress: joint positions on a coarse grid."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 64, n // 4) / 8).astype(np.float32).tobytes()


@pytest.mark.parametrize("name", COMPRESSORS)
def test_compressible_segments_make_one_frame_of_the_whole_chunk(name: str) -> None:
    segments = [bytearray(b"small messages " * 1000), _state(PROBE_BYTES, 1), _state(3 << 20, 2)]
    pieces = COMPRESSORS[name]()(segments, sum(map(len, segments)))
    assert pieces is not None
    assert DECOMPRESS[name](b"".join(pieces)) == b"".join(segments)
    assert sum(map(len, pieces)) < 0.9 * sum(map(len, segments))


@pytest.mark.parametrize("name", COMPRESSORS)
def test_incompressible_chunks_stop_after_the_probe(name: str) -> None:
    segments = [bytearray(os.urandom(1000)), *(os.urandom(1 << 20) for _ in range(4))]
    assert COMPRESSORS[name]()(segments, sum(map(len, segments))) is None


@pytest.mark.parametrize("name", COMPRESSORS)
def test_the_probe_decides_for_the_rest_of_the_chunk(name: str) -> None:
    """Compressible first MiB, random after it: compressed whole (and still exact)."""
    segments = [_state(PROBE_BYTES, 3), os.urandom(2 << 20)]
    pieces = COMPRESSORS[name]()(segments, sum(map(len, segments)))
    assert pieces is not None
    assert DECOMPRESS[name](b"".join(pieces)) == b"".join(segments)


@pytest.mark.parametrize("name", COMPRESSORS)
def test_chunks_up_to_the_probe_size_are_compressed_without_one(name: str) -> None:
    small = [os.urandom(300_000), os.urandom(300_000)]  # incompressible, but under the probe size
    pieces = COMPRESSORS[name]()(small, sum(map(len, small)))
    assert pieces is not None and DECOMPRESS[name](b"".join(pieces)) == b"".join(small)
    single = [os.urandom(3 << 20)]  # one segment: one call, nothing to stop between
    pieces = COMPRESSORS[name]()(single, len(single[0]))
    assert pieces is not None and DECOMPRESS[name](b"".join(pieces)) == single[0]
