"""Write an uncompressed ``.npz`` without the copies ``np.savez`` makes.

``np.savez`` sends every array through ``zipfile`` in 16 MiB ``tobytes()`` copies and computes
the CRC in the same thread. Here each array's buffer goes to the file as it is while its CRC
runs on a second thread (the write releases the GIL), and the CRC is patched into the local
header afterwards. The layout is what ``np.savez`` writes (stored ZIP64 entries of ``.npy``
files), so ``np.load`` reads it unchanged. Object arrays fall back to ``np.save`` (pickle).
"""

from __future__ import annotations

import io
import struct
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

import numpy as np

from ..mcap.crc import crc32

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_ZIP64_LOCAL_EXTRA = struct.Struct("<HHQQ")
_ZIP64_CENTRAL_EXTRA = struct.Struct("<HHQQQ")
_ZIP64_END = struct.Struct("<IQHHIIQQQQ")
_ZIP64_LOCATOR = struct.Struct("<IIQI")
_END = struct.Struct("<IHHHHIIH")
_VERSION = 45  # ZIP64
_UTF8 = 0x800
_MAX32 = 0xFFFFFFFF


def _dos_time() -> tuple[int, int]:
    t = time.localtime()
    return (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2), ((t.tm_year - 1980) << 9) | (
        t.tm_mon << 5
    ) | t.tm_mday


def _npy_parts(array: np.ndarray) -> tuple[bytes, memoryview | bytes]:
    """The .npy header and the data buffer (zero-copy for numeric C-contiguous arrays)."""
    if array.dtype.kind not in "biufc":  # objects, strings: small; let numpy write them
        out = io.BytesIO()
        np.save(out, array, allow_pickle=True)
        return out.getvalue(), b""
    array = np.ascontiguousarray(array)
    header = io.BytesIO()
    np.lib.format.write_array_header_2_0(header, np.lib.format.header_data_from_array_1_0(array))
    return header.getvalue(), array.reshape(-1).view(np.uint8).data if array.size else b""


def _crc(header: bytes, data: memoryview | bytes) -> int:
    return crc32(data, crc32(header))


def write_npz(f: BinaryIO, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` as an uncompressed npz to the seekable binary file ``f``."""
    mod_time, mod_date = _dos_time()
    central: list[bytes] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        for key, value in arrays.items():
            name = (key + ".npy").encode("utf-8")
            header, data = _npy_parts(np.asanyarray(value))
            size = len(header) + len(data)
            crc = pool.submit(_crc, header, data)
            offset = f.tell()
            f.write(
                _LOCAL.pack(
                    0x04034B50, _VERSION, _UTF8, 0, mod_time, mod_date, 0, _MAX32, _MAX32, len(name), 20
                )
            )
            f.write(name)
            f.write(_ZIP64_LOCAL_EXTRA.pack(1, 16, size, size))
            f.write(header)
            f.write(data)
            end = f.tell()
            checksum = crc.result()
            f.seek(offset + 14)
            f.write(struct.pack("<I", checksum))
            f.seek(end)
            central.append(
                _CENTRAL.pack(
                    0x02014B50,
                    _VERSION,
                    _VERSION,
                    _UTF8,
                    0,
                    mod_time,
                    mod_date,
                    checksum,
                    _MAX32,
                    _MAX32,
                    len(name),
                    28,
                    0,
                    0,
                    0,
                    0o600 << 16,
                    _MAX32,
                )
                + name
                + _ZIP64_CENTRAL_EXTRA.pack(1, 24, size, size, offset)
            )
    start = f.tell()
    for record in central:
        f.write(record)
    end = f.tell()
    count = len(central)
    f.write(_ZIP64_END.pack(0x06064B50, 44, _VERSION, _VERSION, 0, 0, count, count, end - start, start))
    f.write(_ZIP64_LOCATOR.pack(0x07064B50, 0, end, 1))
    f.write(_END.pack(0x06054B50, 0, 0, min(count, 0xFFFF), min(count, 0xFFFF), _MAX32, _MAX32, 0))
