"""CRC-32 as MCAP and zip define it, from zlib-ng where its wheel exists.

zlib-ng's ``crc32`` runs at ~10 GB/s here against zlib's ~2 GB/s on buffers larger than the
cache, which is the difference between a chunk check costing a third of a read pass and
costing almost nothing. Like zlib's, it releases the GIL (ISA-L's, as fast, holds it, which
cost the recorder's subscriber thread a third of its 1 MiB throughput). Same polynomial, same
values: ``crc32(data, start)`` continues a CRC.
"""

from __future__ import annotations

try:
    from zlib_ng.zlib_ng import crc32
except ImportError:  # a platform zlib-ng ships no wheel for
    from zlib import crc32

__all__ = ["crc32"]
