"""Decoding ``simrec.Tensor`` / ``simrec.StateBatch`` bytes into numpy, zero-copy where it can.

A parse of a few top-level tags and an ndarray view of the payload; headers of layouts seen
before are cached. Any valid protobuf encoding is accepted (any field order, repeated
occurrences merged, unpacked repeated elements, unknown fields skipped).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simrec_node.msgs.simrec.tensor_pb2 import Tensor

from .tensor_wire import (
    _BY_CODE,
    _DATA_FIELD_NAMES,
    _DATA_TAGS,
    _DOUBLE,
    _EGROUP,
    _F_BYTES,
    _F_DTYPE,
    _F_SHAPE,
    _I32,
    _I64,
    _LEN,
    _NATURAL_CODE,
    _SGROUP,
    _STATE_BATCH_WIRES,
    _U64_MASK,
    _UNPACKED_WIDTH,
    _VARINT,
    FLOAT16,
    _DTypeInfo,
    _varint,
)


def _as_buffer(data: Any) -> bytes | bytearray | memoryview:
    """An indexable byte buffer over ``data`` without copying it."""
    if isinstance(data, bytes | bytearray):
        return data
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(f"expected bytes-like data, not {type(data).__name__}") from None
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def _read_varint(buf: Any, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while pos < end:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & _U64_MASK, pos
        shift += 7
        if shift >= 70:
            raise ValueError("malformed protobuf: varint longer than 10 bytes")
    raise ValueError("malformed protobuf: truncated varint")


def _next_field(buf: Any, pos: int, end: int) -> tuple[int, int, int, int]:
    """Read one field at ``pos``: (field number, wire type, value, position after it).

    For VARINT the value is the number; for LEN, I32 and I64 it is the payload offset (the
    payload ends at the returned position). Unknown groups are skipped as a whole.
    """
    tag = buf[pos]
    if tag < 0x80:
        pos += 1
    else:
        tag, pos = _read_varint(buf, pos, end)
    field, wire = tag >> 3, tag & 7
    if field == 0 or field >= 1 << 29:
        raise ValueError(f"malformed protobuf: invalid field number {field}")
    if wire == _VARINT:
        value, pos = _read_varint(buf, pos, end)
        return field, wire, value, pos
    if wire == _LEN:
        length = buf[pos] if pos < end else 0x80
        if length < 0x80:
            pos += 1
        else:
            length, pos = _read_varint(buf, pos, end)
        stop = pos + length
    elif wire == _I32:
        stop = pos + 4
    elif wire == _I64:
        stop = pos + 8
    elif wire == _SGROUP:
        stop = _skip_group(buf, pos, end, field)
    else:
        raise ValueError(f"malformed protobuf: unexpected wire type {wire} for field {field}")
    if stop > end:
        raise ValueError(f"malformed protobuf: field {field} runs past the end of the message")
    return field, wire, pos, stop


def _skip_group(buf: Any, pos: int, end: int, field: int) -> int:
    while pos < end:
        tag, after = _read_varint(buf, pos, end)
        if tag == (field << 3) | _EGROUP:
            return after
        _, _, _, pos = _next_field(buf, pos, end)
    raise ValueError(f"malformed protobuf: unterminated group {field}")


def _unpack_varints(buf: Any, pos: int, end: int, out: list[int]) -> None:
    while pos < end:
        byte = buf[pos]
        if byte < 0x80:
            out.append(byte)
            pos += 1
        else:
            value, pos = _read_varint(buf, pos, end)
            out.append(value)


def _wire_error(field: int, wire: int, what: str) -> ValueError:
    return ValueError(f"malformed simrec.{what}: field {field} has unexpected wire type {wire}")


def _decode_tensor_at(buf: Any, pos: int, end: int) -> np.ndarray:
    """Decode the Tensor message stored in ``buf[pos:end]``."""
    array = _decode_canonical(buf, pos, end)
    if array is None:
        array = _decode_general(buf, pos, end)
    return array


# Layouts seen before: the dtype+shape prefix of a canonical encoding -> how to read the rest.
_LAYOUTS: dict[bytes, tuple[_DTypeInfo, tuple[int, ...], int, bytes] | None] = {}
_MAX_LAYOUTS = 4096


def _canonical_layout(buf: Any, pos: int, end: int) -> tuple[_DTypeInfo, tuple[int, ...], int] | None:
    """(dtype info, shape, payload offset) if ``buf[pos:end]`` is laid out as the encoder
    writes it (dtype, shape, one data field filling the rest), else None.

    The dtype and shape bytes are looked up as one key, so a stream of same-shaped tensors
    costs a dict lookup and two byte compares instead of a varint parse.
    """
    if end - pos < 2 or buf[pos] != 0x08:
        return None
    p = pos + 2
    if p + 1 < end and buf[p] == 0x12:
        if buf[p + 1] >= 0x80:
            return None
        p += 2 + buf[p + 1]
    key = bytes(buf[pos:p])
    layout = _LAYOUTS.get(key, False)
    if layout is False:
        if len(_LAYOUTS) >= _MAX_LAYOUTS:
            _LAYOUTS.clear()
        layout = _LAYOUTS[key] = _parse_layout(key)
    if layout is None:
        return None
    info, shape, nbytes, data_head = layout
    q = p + len(data_head)
    if q + nbytes != end or buf[p:q] != data_head:
        return None
    return info, shape, q


def _decode_canonical(buf: Any, pos: int, end: int) -> np.ndarray | None:
    """Fast path for the layout the encoder writes, else None."""
    layout = _canonical_layout(buf, pos, end)
    if layout is None:
        return None
    info, shape, offset = layout
    return _restore_dtype(np.ndarray(shape, info.wire, buf, offset), info)


def _parse_layout(key: bytes) -> tuple[_DTypeInfo, tuple[int, ...], int, bytes] | None:
    """Dtype, shape, payload size and data-field header for a canonical dtype+shape prefix."""
    info = _BY_CODE.get(key[1])
    if info is None:
        return None
    shape: list[int] = []
    try:
        _unpack_varints(key, 4, len(key), shape)
    except ValueError:
        return None
    nbytes = math.prod(shape) * info.wire.itemsize
    data_head = _DATA_TAGS[info.field] + _varint(nbytes) if nbytes else b""
    return info, tuple(shape), nbytes, data_head


def _decode_general(buf: Any, pos: int, end: int) -> np.ndarray:
    """Decode any valid protobuf encoding of a Tensor (field order, unpacked, unknown fields)."""
    code = 0
    shape: list[int] = []
    chunks: dict[int, list[tuple[int, int]]] = {}
    while pos < end:
        field, wire, value, pos = _next_field(buf, pos, end)
        if field == _F_DTYPE:
            if wire != _VARINT:
                raise _wire_error(field, wire, "Tensor")
            code = value
        elif field == _F_SHAPE:
            if wire == _LEN:
                _unpack_varints(buf, value, pos, shape)
            elif wire == _VARINT:
                shape.append(value)
            else:
                raise _wire_error(field, wire, "Tensor")
        elif field == _F_BYTES:
            if wire != _LEN:
                raise _wire_error(field, wire, "Tensor")
            chunks[field] = [(value, pos)]  # a singular bytes field: the last one wins
        elif field in _UNPACKED_WIDTH:
            if wire != _LEN and wire != (_I32 if _UNPACKED_WIDTH[field] == 4 else _I64):
                raise _wire_error(field, wire, "Tensor")
            chunks.setdefault(field, []).append((value, pos))  # repeated: occurrences append
    return _tensor_from_chunks(buf, code, shape, chunks)


def _tensor_from_chunks(
    buf: Any, code: int, shape: list[int], chunks: dict[int, list[tuple[int, int]]]
) -> np.ndarray:
    present = [f for f, spans in chunks.items() if any(stop > start for start, stop in spans)]
    if code == 0 and len(present) == 1:  # no dtype recorded: the data field says it
        code = _NATURAL_CODE[present[0]]
    info = _BY_CODE.get(code)
    if info is None:
        raise ValueError(f"malformed simrec.Tensor: unknown or missing dtype {code}")
    stray = [f for f in present if f != info.field]
    if stray:
        names = ", ".join(_DATA_FIELD_NAMES[f] for f in stray)
        raise ValueError(
            f"malformed simrec.Tensor: dtype {code} keeps its data in "
            f"{_DATA_FIELD_NAMES[info.field]} but {names} is set"
        )
    spans = chunks.get(info.field, [])
    count = math.prod(shape)
    itemsize = info.wire.itemsize
    if len(spans) == 1:
        start, stop = spans[0]
        payload: Any = buf
    else:  # unpacked or split packed encodings: concatenate the pieces (rare)
        payload = b"".join([bytes(buf[a:b]) for a, b in spans])
        start, stop = 0, len(payload)
    if stop - start != count * itemsize:
        raise ValueError(
            f"malformed simrec.Tensor: shape {tuple(shape)} needs {count} elements, "
            f"{_DATA_FIELD_NAMES[info.field]} holds {(stop - start) / itemsize:g}"
        )
    return _restore_dtype(np.ndarray(tuple(shape), info.wire, payload, start), info)


def _restore_dtype(array: np.ndarray, info: _DTypeInfo) -> np.ndarray:
    """Narrow widened payloads back (a new array); leave the rest as read-only views.

    bool goes through a cast too, so that a foreign writer's non-0/1 bytes read as True.
    """
    if info.narrowed:
        if info.code == FLOAT16:  # a foreign writer's out-of-range float32 becomes inf
            with np.errstate(over="ignore"):
                return array.astype(info.result)
        return array.astype(info.result)
    if array.flags.writeable:  # a view of a caller's bytearray: do not hand out write access
        array.flags.writeable = False
    return array


def decode_tensor(data: bytes | bytearray | memoryview) -> np.ndarray:
    """Decode a serialized ``simrec.Tensor`` into a numpy array.

    Where the payload needs no conversion the result is a read-only zero-copy view of
    ``data``; widened types (float16, int8, int16, uint16, bool) come back as new arrays.
    """
    buf = data if type(data) is bytes else _as_buffer(data)
    end = len(buf)
    try:
        layout = _canonical_layout(buf, 0, end)
        if layout is None:
            return _decode_general(buf, 0, end)
    except IndexError:
        raise ValueError("malformed simrec.Tensor: truncated message") from None
    info, shape, offset = layout
    return _restore_dtype(np.ndarray(shape, info.wire, buf, offset), info)


def decode_tensors(rows: np.ndarray) -> np.ndarray | None:
    """Many serialized ``simrec.Tensor`` messages at once: ``rows`` is ``[n, L]`` uint8, one
    message per row. Returns the ``[n, *shape]`` array (a view of ``rows`` where the dtype needs
    no widening: copy what you keep), or None when the rows do not share one layout (then decode
    them one by one).

    Why it is exact: every row's bytes outside the first row's data region are checked equal to
    the first row's, so every row parses as the first does, with its own data bytes.
    """
    n, length = rows.shape
    if n == 0:
        return None
    first = rows[0].tobytes()
    try:
        layout = _canonical_layout(first, 0, length)
    except IndexError:
        return None
    if layout is None:
        return None
    info, shape, offset = layout
    nbytes = info.wire.itemsize * int(np.prod(shape, dtype=np.int64))
    stop = offset + nbytes
    if stop > length:
        return None
    if not ((rows[:, :offset] == rows[0, :offset]).all() and (rows[:, stop:] == rows[0, stop:]).all()):
        return None
    data = rows[:, offset:stop].view(info.wire).reshape(n, *shape)
    return data.astype(info.result) if info.narrowed else data


def tensor_to_numpy(msg: Tensor) -> np.ndarray:
    """Convert a ``simrec.Tensor`` protobuf object to numpy via its serialized form."""
    return decode_tensor(msg.SerializeToString())


@dataclass(frozen=True, slots=True)
class StateBatchView:
    """A decoded ``simrec.StateBatch``; tensors may be read-only views of the input buffer."""

    step: int
    sim_time: float
    num_envs: int
    tensors: dict[str, np.ndarray]


def _canonical_entry(buf: Any, pos: int, end: int) -> tuple[Any, int] | None:
    """(raw key, tensor offset) if the map entry is laid out as key then value, else None."""
    if end - pos > 2 and buf[pos] == 0x0A and buf[pos + 1] < 0x80:
        key_end = pos + 2 + buf[pos + 1]
        if key_end < end and buf[key_end] == 0x12:
            length, value_pos = _read_varint(buf, key_end + 1, end)
            if value_pos + length == end:
                return buf[pos + 2 : key_end], value_pos
    return None


def _decode_entry(buf: Any, pos: int, end: int) -> tuple[str, np.ndarray]:
    """Decode one ``map<string, Tensor>`` entry (field 1 key, field 2 value)."""
    entry = _canonical_entry(buf, pos, end)
    if entry is None:
        return _decode_entry_general(buf, pos, end)
    key, value_pos = entry
    return _utf8(key), _decode_tensor_at(buf, value_pos, end)


def _utf8(raw: Any) -> str:
    try:
        return str(raw, "utf-8")
    except UnicodeDecodeError:
        raise ValueError("malformed simrec.StateBatch: tensor name is not UTF-8") from None


def _decode_entry_general(buf: Any, pos: int, end: int) -> tuple[str, np.ndarray]:
    key = b""
    spans: list[tuple[int, int]] = []
    while pos < end:
        field, wire, value, pos = _next_field(buf, pos, end)
        if field in (1, 2) and wire != _LEN:
            raise _wire_error(field, wire, "StateBatch.TensorsEntry")
        if field == 1:
            key = buf[value:pos]
        elif field == 2:
            spans.append((value, pos))  # repeated message occurrences merge = concatenate
    name = _utf8(key)
    if len(spans) == 1:
        return name, _decode_tensor_at(buf, *spans[0])
    joined = b"".join([bytes(buf[a:b]) for a, b in spans])
    return name, _decode_tensor_at(joined, 0, len(joined))


# The map entries of batches seen before, keyed by the byte length of the entries: where each
# entry starts (relative to the first), its bytes up to the payload, its name, dtype and shape.
_Skeleton = tuple[tuple[int, bytes, str, _DTypeInfo, tuple[int, ...]], ...]
_SKELETONS: dict[int, _Skeleton] = {}
_MAX_SKELETONS = 256


def _build_skeleton(buf: Any, pos: int, end: int) -> _Skeleton | None:
    """The skeleton of ``buf[pos:end]`` if it holds only canonically laid out entries."""
    entries = []
    base = pos
    while pos < end:
        if buf[pos] != 0x22:
            return None
        length, start = _read_varint(buf, pos + 1, end)
        stop = start + length
        entry = _canonical_entry(buf, start, stop) if stop <= end else None
        layout = entry and _canonical_layout(buf, entry[1], stop)
        if not layout:
            return None
        info, shape, offset = layout
        entries.append((pos - base, bytes(buf[pos:offset]), _utf8(entry[0]), info, shape))
        pos = stop
    return tuple(entries)


def _decode_entries_fast(buf: Any, pos: int, end: int) -> dict[str, np.ndarray] | None:
    """Decode the map entries filling ``buf[pos:end]`` against a cached skeleton.

    A batch stream repeats the same names, dtypes and shapes, so everything but the payloads
    is byte-identical from step to step: checking those bytes replaces parsing them. None if
    the entries are not canonical (the caller then parses them in full).
    """
    skeleton = _SKELETONS.get(end - pos)
    for attempt in range(2):
        if skeleton is None or attempt:
            skeleton = _build_skeleton(buf, pos, end)
            if skeleton is None:
                return None
            if len(_SKELETONS) >= _MAX_SKELETONS:
                _SKELETONS.clear()
            _SKELETONS[end - pos] = skeleton
        tensors = {}
        for offset, head, name, info, shape in skeleton:
            start = pos + offset
            payload = start + len(head)
            if buf[start:payload] != head:
                break
            tensors[name] = _restore_dtype(np.ndarray(shape, info.wire, buf, payload), info)
        else:
            return tensors
    return None


def decode_state_batch(data: bytes | bytearray | memoryview) -> StateBatchView:
    """Decode a serialized ``simrec.StateBatch`` without copying the tensor payloads."""
    buf = _as_buffer(data)
    state = {"step": 0, "sim_time": 0.0, "num_envs": 0}
    try:
        pos = _read_batch_fields(buf, 0, len(buf), state, None)  # up to the first entry
        tensors = _decode_entries_fast(buf, pos, len(buf))
        if tensors is None:
            tensors = {}
            _read_batch_fields(buf, pos, len(buf), state, tensors)
    except IndexError:
        raise ValueError("malformed simrec.StateBatch: truncated message") from None
    return StateBatchView(tensors=tensors, **state)


def _read_batch_fields(
    buf: Any, pos: int, end: int, state: dict[str, Any], tensors: dict[str, np.ndarray] | None
) -> int:
    """Parse StateBatch fields into ``state``/``tensors``; return where parsing stopped.

    With ``tensors`` None it stops at the first map entry, so the entries can take the
    fast path.
    """
    while pos < end:
        tag = buf[pos]
        if tag == 0x22 and tensors is None:
            return pos
        if tag == 0x11 and pos + 9 <= end:  # the common tags, without the general parse
            state["sim_time"] = _DOUBLE.unpack_from(buf, pos + 1)[0]
            pos += 9
            continue
        if tag == 0x08:
            state["step"], pos = _read_varint(buf, pos + 1, end)
            continue
        if tag == 0x18:
            value, pos = _read_varint(buf, pos + 1, end)
            state["num_envs"] = value & 0xFFFFFFFF  # uint32: protobuf truncates
            continue
        field, wire, value, after = _next_field(buf, pos, end)
        if wire != _STATE_BATCH_WIRES.get(field, wire):
            raise _wire_error(field, wire, "StateBatch")
        if field == 4 and tensors is None:  # an entry behind an over-long tag
            return pos
        pos = after
        if field == 1:
            state["step"] = value
        elif field == 2:
            state["sim_time"] = _DOUBLE.unpack_from(buf, value)[0]
        elif field == 3:
            state["num_envs"] = value & 0xFFFFFFFF  # uint32: protobuf truncates
        elif field == 4 and tensors is not None:
            name, array = _decode_entry(buf, value, pos)
            tensors[name] = array  # duplicate keys: the last one wins, as in protobuf
    return pos


# The scalar fields of a StateBatch header: tag -> (name, varint or fixed64 double).
_BATCH_HEAD_TAGS = {0x08: ("step", True), 0x11: ("sim_time", False), 0x18: ("num_envs", True)}


def decode_state_batches(rows: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """Many serialized ``simrec.StateBatch`` messages at once: ``rows`` is ``[n, L]`` uint8, one
    message per row. Returns ``({"step", "sim_time", "num_envs"}: [n] arrays, {name: [n, *shape]})``
    (tensors as views of ``rows`` where their dtype needs no widening: copy what you keep), or
    None when the rows do not share one layout (then decode them one by one).

    Why it is exact: the first row parses as header fields (step, sim_time, num_envs, each once,
    no other field) then canonical map entries (``decode_state_batch``'s fast path); every row
    has the same tag bytes and varint lengths in the header and the same bytes outside the
    tensor payloads in the entries, so every row parses as the first does, with its own values.
    """
    n, length = rows.shape
    if n == 0:
        return None
    first = rows[0].tobytes()
    fields: list[tuple[str, bool, int, int]] = []  # name, varint, value start, value end
    pos = 0
    try:
        while pos < length and first[pos] != 0x22:
            known = _BATCH_HEAD_TAGS.get(first[pos])
            if known is None or any(f[0] == known[0] for f in fields):
                return None
            name, varint = known
            if varint:
                _, stop = _read_varint(first, pos + 1, length)
                if stop - pos - 1 > 10:
                    return None
            else:
                stop = pos + 9
                if stop > length:
                    return None
            fields.append((name, varint, pos + 1, stop))
            pos = stop
        skeleton = _build_skeleton(first, pos, length)
    except (IndexError, ValueError):
        return None
    if skeleton is None:
        return None
    for _, varint, start, stop in fields:
        if not (rows[:, start - 1] == rows[0, start - 1]).all():  # the tag
            return None
        if varint and not ((rows[:, start : stop - 1] >= 0x80).all() and (rows[:, stop - 1] < 0x80).all()):
            return None
    for offset, head, _, _, _ in skeleton:
        at = pos + offset
        if not (rows[:, at : at + len(head)] == rows[0, at : at + len(head)]).all():
            return None
    scalars = {
        "step": np.zeros(n, dtype=np.uint64),
        "sim_time": np.zeros(n, dtype=np.float64),
        "num_envs": np.zeros(n, dtype=np.uint32),
    }
    for name, varint, start, stop in fields:
        if varint:
            value = np.zeros(n, dtype=np.uint64)
            for k, column in enumerate(range(start, stop)):
                value |= (rows[:, column] & 0x7F).astype(np.uint64) << np.uint64(7 * k)
            scalars[name] = value if name == "step" else (value & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        else:
            scalars[name] = np.ascontiguousarray(rows[:, start:stop]).view("<f8")[:, 0].astype(np.float64)
    tensors: dict[str, np.ndarray] = {}
    for offset, head, name, info, shape in skeleton:
        at = pos + offset + len(head)
        nbytes = info.wire.itemsize * math.prod(shape)
        data = rows[:, at : at + nbytes].view(info.wire).reshape(n, *shape)
        if info.narrowed:  # as _restore_dtype: float16 overflow is inf, bool any non-zero byte
            with np.errstate(over="ignore"):
                data = data.astype(info.result)
        tensors[name] = data  # duplicate names: the last one wins, as in protobuf
    return scalars, tensors
