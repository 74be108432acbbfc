"""The fast CRC-32 that MCAP chunks and npz entries use gives zlib's values (same polynomial)."""

import os
import zlib

from simrec_node.mcap.crc import crc32


def test_crc32_matches_zlib_whole_and_continued():
    for size in (0, 1, 63, 4096, 1 << 20):
        data = os.urandom(size)
        assert crc32(data) == zlib.crc32(data)
        half = size // 2
        assert crc32(data[half:], crc32(data[:half])) == zlib.crc32(data)
        assert crc32(memoryview(data)) == zlib.crc32(data)
