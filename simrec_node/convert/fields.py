"""Flatten one decoded message into ``{field.path: value}`` for the NPZ columns.

Naming (the NPZ key is ``topic/`` + this path):
- ``simrec.StateBatch``: ``step``, ``sim_time``, ``num_envs`` and ``tensors.<name>`` (the
  tensor with its recorded dtype and shape, e.g. ``tensors.qpos`` -> [N, 2] per message);
- ``simrec.Tensor``: ``data``;
- any other protobuf type: the field path joined with dots (``clock.seconds``,
  ``transforms.translation.x``); map entries add their key (``values.mean_reward``); a
  repeated message field gives one [K] array per leaf field; a nested ``simrec.Tensor``
  becomes its array.

Numeric leaves carry their protobuf dtype in ``kinds``; non-numeric leaves (strings, bytes,
repeated strings) carry a reason string there instead, so the column can store them as
objects or list them as skipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from simrec_node.msgs import StateBatchView, decode_tensor

F = FieldDescriptor
SCALAR_DTYPES: dict[int, np.dtype] = {
    F.TYPE_DOUBLE: np.dtype("f8"),
    F.TYPE_FLOAT: np.dtype("f4"),
    F.TYPE_INT64: np.dtype("i8"),
    F.TYPE_SINT64: np.dtype("i8"),
    F.TYPE_SFIXED64: np.dtype("i8"),
    F.TYPE_UINT64: np.dtype("u8"),
    F.TYPE_FIXED64: np.dtype("u8"),
    F.TYPE_INT32: np.dtype("i4"),
    F.TYPE_SINT32: np.dtype("i4"),
    F.TYPE_SFIXED32: np.dtype("i4"),
    F.TYPE_UINT32: np.dtype("u4"),
    F.TYPE_FIXED32: np.dtype("u4"),
    F.TYPE_BOOL: np.dtype("?"),
    F.TYPE_ENUM: np.dtype("i4"),
}
_NON_NUMERIC = {F.TYPE_STRING: "string field", F.TYPE_BYTES: "bytes field"}
STATE_BATCH_KINDS = {"step": np.dtype("u8"), "sim_time": np.dtype("f8"), "num_envs": np.dtype("u4")}

Kind = np.dtype | str  # a dtype, or why the value is not numeric


def flatten(message: Any, out: dict[str, Any], kinds: dict[str, Kind]) -> None:
    """Fill ``out`` with the leaves of ``message`` and ``kinds`` with their dtypes (or reasons)."""
    if isinstance(message, StateBatchView):
        out["step"], out["sim_time"], out["num_envs"] = message.step, message.sim_time, message.num_envs
        kinds.update(STATE_BATCH_KINDS)
        for name, array in message.tensors.items():
            out["tensors." + name] = array
    elif isinstance(message, np.ndarray):
        out["data"] = message
    else:
        _walk(message, "", out, kinds)


def _is_tensor(descriptor: Descriptor) -> bool:
    return descriptor.full_name == "simrec.Tensor"


def _message(value: Message, key: str, out: dict[str, Any], kinds: dict[str, Kind]) -> None:
    if _is_tensor(value.DESCRIPTOR):
        out[key] = decode_tensor(value.SerializeToString())
    else:
        _walk(value, key + ".", out, kinds)


def _scalar(fd: FieldDescriptor, key: str, value: Any, out: dict[str, Any], kinds: dict[str, Kind]) -> None:
    out[key] = value
    kinds[key] = SCALAR_DTYPES.get(fd.type) or _NON_NUMERIC.get(fd.type, "unsupported field type")


def _walk(message: Message, prefix: str, out: dict[str, Any], kinds: dict[str, Kind]) -> None:
    for fd in message.DESCRIPTOR.fields:
        key = prefix + fd.name
        value = getattr(message, fd.name)
        sub = fd.message_type
        if sub is not None and sub.GetOptions().map_entry:
            value_fd = sub.fields_by_name["value"]
            for map_key in value:
                entry_key = f"{key}.{map_key}"
                if value_fd.message_type is not None:
                    _message(value[map_key], entry_key, out, kinds)
                else:
                    _scalar(value_fd, entry_key, value[map_key], out, kinds)
        elif sub is not None and fd.is_repeated:
            _repeated_messages(value, key, out, kinds)
        elif sub is not None:
            _message(value, key, out, kinds)
        elif fd.is_repeated:
            dtype = SCALAR_DTYPES.get(fd.type)
            if dtype is not None:
                out[key] = np.array(value, dtype=dtype)
            else:
                out[key] = list(value)
                kinds[key] = "repeated " + _NON_NUMERIC.get(fd.type, "field")
        else:
            _scalar(fd, key, value, out, kinds)


def _repeated_messages(elements: Any, key: str, out: dict[str, Any], kinds: dict[str, Kind]) -> None:
    """Each leaf of the elements becomes one [K] array (K = number of elements)."""
    rows: list[dict[str, Any]] = []
    for element in elements:
        leaves: dict[str, Any] = {}
        _message(element, key, leaves, kinds)
        rows.append(leaves)
    if not rows:
        return
    for leaf in dict.fromkeys(k for row in rows for k in row):
        values = [row.get(leaf) for row in rows]
        kind = kinds.get(leaf)
        if any(v is None for v in values):
            out[leaf] = values
            kinds[leaf] = "field present in only some elements of a repeated message"
        elif isinstance(kind, np.dtype):
            out[leaf] = np.array(values, dtype=kind)
        elif isinstance(values[0], np.ndarray) and all(v.shape == values[0].shape for v in values):
            out[leaf] = np.stack(values)
        else:
            out[leaf] = values
            if not isinstance(kind, str):
                kinds[leaf] = "ragged arrays inside a repeated message"
