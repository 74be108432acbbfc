"""Encoding numpy arrays (and torch tensors) as ``simrec.Tensor`` / ``simrec.StateBatch`` bytes.

One copy: a ``bytes.join`` of a small header and the array buffer, byte-identical to what
``Tensor.SerializeToString()`` writes for the same message.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from typing import Any

import numpy as np

from simrec_node.msgs.simrec.tensor_pb2 import Tensor

from .tensor_wire import (
    _BY_CODE,
    _CODE_BY_KIND,
    _DATA_TAGS,
    _DOUBLE,
    _DTYPE_HEADERS,
    _ENCODE_AS,
    _SHAPE_TAG,
    BFLOAT16,
    _varint,
)


def _unsupported(dtype: Any) -> TypeError:
    return TypeError(f"simrec.Tensor cannot hold dtype {dtype!s}")


def _as_numpy(value: Any) -> tuple[np.ndarray, int | None]:
    """Return ``value`` as a numpy array, and a forced DType code for torch bfloat16.

    torch is optional, so torch tensors are recognised by duck typing (``.detach``/``.cpu``)
    rather than imported.
    """
    if isinstance(value, np.ndarray):
        return value, None
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return _torch_as_numpy(value.detach())
    try:
        return np.asarray(value), None
    except (ValueError, TypeError) as exc:
        raise TypeError(f"cannot convert {type(value).__name__} to a tensor: {exc}") from exc


def _torch_as_numpy(t: Any) -> tuple[np.ndarray, int | None]:
    """A numpy view of a detached torch tensor.

    The common case, a CPU tensor of a dtype numpy has, is two torch calls: every call counts
    when a sim logs each step. ``.numpy()`` refuses the rest (device tensors, bfloat16, lazy
    conj/neg views), which take the longer way.
    """
    try:
        return t.numpy(), None
    except (TypeError, RuntimeError):
        pass
    t = t.cpu()
    forced = None
    if str(getattr(t, "dtype", "")) == "torch.bfloat16":
        t, forced = t.float(), BFLOAT16
    for resolve in ("resolve_conj", "resolve_neg"):  # .numpy() refuses lazy conj/neg views
        if hasattr(t, resolve):
            t = getattr(t, resolve)()
    return np.asarray(t.numpy()), forced


def _dtype_code(dtype: np.dtype) -> int:
    code = _CODE_BY_KIND.get((dtype.kind, dtype.itemsize))
    if code is None:
        if dtype.name == "bfloat16":  # ml_dtypes.bfloat16, where someone has it installed
            return BFLOAT16
        raise _unsupported(dtype)
    return code


# Encoded dtype + shape + data-field header by (dtype code, shape): a stream repeats shapes.
_HEADERS: dict[tuple[int, tuple[int, ...]], tuple[bytes, int]] = {}
_MAX_HEADERS = 4096


def _header(code: int, shape: tuple[int, ...]) -> tuple[bytes, int]:
    """Every byte of the encoded Tensor before its payload, and the payload size."""
    found = _HEADERS.get((code, shape))
    if found is not None:
        return found
    header = _DTYPE_HEADERS[code]
    if shape:
        packed = b"".join([_varint(dim) for dim in shape])
        header += _SHAPE_TAG + _varint(len(packed)) + packed
    nbytes = math.prod(shape) * _BY_CODE[code].wire.itemsize
    if nbytes:  # proto3 writes no empty packed field
        header += _DATA_TAGS[_BY_CODE[code].field] + _varint(nbytes)
    if len(_HEADERS) >= _MAX_HEADERS:
        _HEADERS.clear()
    _HEADERS[code, shape] = header, nbytes
    return header, nbytes


def _tensor_parts(value: Any) -> tuple[list[Any], int]:
    """Buffers that concatenate to the encoded Tensor, and their total length in bytes.

    Returned separately so that a StateBatch can splice them into its own single join.
    """
    array, code = _as_numpy(value)
    if code is None:
        code = _dtype_code(array.dtype)
    header, nbytes = _header(code, array.shape)
    if not nbytes:
        return [header], len(header)
    data = np.asarray(array, dtype=_ENCODE_AS[code], order="C")
    return [header, memoryview(data).cast("B")], len(header) + nbytes


def encode_tensor(array: Any) -> bytes:
    """Serialize a numpy array (or torch tensor / array-like) as a ``simrec.Tensor``.

    The output is byte-identical to what protobuf writes for the same message.
    """
    parts, _ = _tensor_parts(array)
    return b"".join(parts)


def numpy_to_tensor(array: Any) -> Tensor:
    """Build a ``simrec.Tensor`` protobuf object through the fast encoder."""
    return Tensor.FromString(encode_tensor(array))


def _uint(value: Any, bits: int, name: str) -> int:
    number = operator.index(value)
    if not 0 <= number < (1 << bits):
        raise ValueError(f"{name}={number} does not fit in uint{bits}")
    return number


def _first_dim(tensors: Mapping[str, Any]) -> int:
    for value in tensors.values():
        shape = getattr(value, "shape", None)
        if shape is None:
            shape = np.shape(value)
        return int(shape[0]) if len(shape) else 0
    return 0


def encode_state_batch(
    tensors: Mapping[str, Any],
    *,
    step: int = 0,
    sim_time: float = 0.0,
    num_envs: int | None = None,
) -> bytes:
    """Serialize a ``simrec.StateBatch``; every tensor payload is copied exactly once.

    ``num_envs`` defaults to the first dimension of the first tensor (0 if there is none).
    """
    step = _uint(step, 64, "step")
    num_envs = _uint(_first_dim(tensors) if num_envs is None else num_envs, 32, "num_envs")
    parts: list[Any] = []
    if step:
        parts += (b"\x08", _varint(step))
    time_bytes = _DOUBLE.pack(float(sim_time))
    if time_bytes != b"\x00" * 8:  # proto3 omits +0.0 only, not -0.0
        parts += (b"\x11", time_bytes)
    if num_envs:
        parts += (b"\x18", _varint(num_envs))
    for key, value in tensors.items():
        if not isinstance(key, str):
            raise TypeError(f"StateBatch tensor names must be str, not {type(key).__name__}")
        key_bytes = key.encode("utf-8")
        tensor_parts, tensor_len = _tensor_parts(value)
        key_head = b"\x0a" + _varint(len(key_bytes))
        value_head = b"\x12" + _varint(tensor_len)
        entry_len = len(key_head) + len(key_bytes) + len(value_head) + tensor_len
        parts += (b"\x22", _varint(entry_len), key_head, key_bytes, value_head)
        parts += tensor_parts
    return b"".join(parts)
