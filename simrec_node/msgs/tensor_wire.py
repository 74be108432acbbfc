"""The wire layout of ``simrec.Tensor``: dtype codes, data fields, tags and varints.

Shared by the hand-written encoder (``tensor_encode``) and decoder (``tensor_decode``);
``schemas/simrec/tensor.proto`` is the source of truth for every number here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

# --- simrec.DType values (schemas/simrec/tensor.proto) -------------------------------------
FLOAT32, FLOAT64, FLOAT16, BFLOAT16 = 1, 2, 3, 4
INT8, INT16, INT32, INT64 = 5, 6, 7, 8
UINT8, UINT16, UINT32, UINT64 = 9, 10, 11, 12
BOOL = 13

# Wire types.
_VARINT, _I64, _LEN, _SGROUP, _EGROUP, _I32 = 0, 1, 2, 3, 4, 5

# Tensor field numbers; 3 to 9 are the data fields.
_F_DTYPE, _F_SHAPE, _F_BYTES = 1, 2, 9
_DATA_FIELD_NAMES = {
    3: "float32_data",
    4: "float64_data",
    5: "int32_data",
    6: "int64_data",
    7: "uint32_data",
    8: "uint64_data",
    9: "bytes_data",
}
# Element width of the unpacked (non-packed) encoding of each fixed-width repeated field.
_UNPACKED_WIDTH = {3: 4, 4: 8, 5: 4, 6: 8, 7: 4, 8: 8}


@dataclass(frozen=True, slots=True)
class _DTypeInfo:
    """How one simrec.DType travels: the data field, its wire dtype and the dtype to return."""

    code: int
    field: int
    wire: np.dtype  # dtype of the payload buffer (little-endian)
    result: np.dtype  # dtype handed back by the decoder
    narrowed: bool  # the decoder casts the payload (to result) instead of viewing it


def _info(code: int, field: int, wire: str, result: str) -> _DTypeInfo:
    return _DTypeInfo(code, field, np.dtype(wire), np.dtype(result), np.dtype(wire) != np.dtype(result))


_BY_CODE: dict[int, _DTypeInfo] = {
    i.code: i
    for i in (
        _info(FLOAT32, 3, "<f4", "<f4"),
        _info(FLOAT64, 4, "<f8", "<f8"),
        _info(FLOAT16, 3, "<f4", "<f2"),
        # numpy has no bfloat16: the decoder returns the exact float32 widening.
        _info(BFLOAT16, 3, "<f4", "<f4"),
        _info(INT8, 5, "<i4", "i1"),
        _info(INT16, 5, "<i4", "<i2"),
        _info(INT32, 5, "<i4", "<i4"),
        _info(INT64, 6, "<i8", "<i8"),
        _info(UINT8, 9, "u1", "u1"),
        _info(UINT16, 7, "<u4", "<u2"),
        _info(UINT32, 7, "<u4", "<u4"),
        _info(UINT64, 8, "<u8", "<u8"),
        _info(BOOL, 9, "u1", "?"),
    )
}
_CODE_BY_KIND: dict[tuple[str, int], int] = {
    ("f", 2): FLOAT16,
    ("f", 4): FLOAT32,
    ("f", 8): FLOAT64,
    ("i", 1): INT8,
    ("i", 2): INT16,
    ("i", 4): INT32,
    ("i", 8): INT64,
    ("u", 1): UINT8,
    ("u", 2): UINT16,
    ("u", 4): UINT32,
    ("u", 8): UINT64,
    ("b", 1): BOOL,
}
# Dtype the encoder hands to ``bytes.join``; bool is already 0/1 bytes, so no cast for it.
_ENCODE_AS: dict[int, np.dtype] = {c: i.wire for c, i in _BY_CODE.items()}
_ENCODE_AS[BOOL] = np.dtype("?")

_U64_MASK = (1 << 64) - 1
_SMALL_VARINTS = [bytes((i,)) for i in range(128)]
_DTYPE_HEADERS = {code: bytes((0x08, code)) for code in _BY_CODE}
_DATA_TAGS = {field: _SMALL_VARINTS[(field << 3) | _LEN] for field in _DATA_FIELD_NAMES}
_SHAPE_TAG = b"\x12"
_DOUBLE = struct.Struct("<d")
_STATE_BATCH_WIRES = {1: _VARINT, 2: _I64, 3: _VARINT, 4: _LEN}
# The dtype a Tensor without one is read as, from the data field it uses.
_NATURAL_CODE = {3: FLOAT32, 4: FLOAT64, 5: INT32, 6: INT64, 7: UINT32, 8: UINT64, 9: UINT8}


def _varint(value: int) -> bytes:
    """Encode a non-negative int as a protobuf base-128 varint."""
    if value < 0x80:
        if value < 0:
            raise ValueError(f"cannot encode negative value {value} as an unsigned varint")
        return _SMALL_VARINTS[value]
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
