"""Turn what a simulation hands to ``rec.log`` into (message type, serialized bytes).

Everything that may alias the simulator's buffers is copied before ``log`` returns: a numpy
array is serialized at once (the serialization *is* the one copy), a CUDA tensor is copied to
host memory asynchronously and serialized later on the writer thread, once its copy is done.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from google.protobuf.message import Message

from simrec_node.graph import TypeInfo
from simrec_node.msgs import CompressedImage, Scalars, StateBatch, Tensor, encode_compressed_image
from simrec_node.msgs.tensor_codec import encode_state_batch, encode_tensor

from .errors import UnsupportedValueError

__all__ = ["TENSOR_INFO", "TENSOR_KINDS", "Encoded", "encode_array", "encode_value", "type_info_of"]

_TYPE_INFOS: dict[type[Message], TypeInfo] = {}
# torch dtype -> why simrec.Tensor cannot hold it ("" where it can), learnt once per dtype.
_TORCH_DTYPE_ERRORS: dict[Any, str] = {}
# numpy kinds a simrec.Tensor holds: bool, signed/unsigned ints, floats.
TENSOR_KINDS = frozenset("biuf")


def type_info_of(message_class: type[Message]) -> TypeInfo:
    """TypeInfo of a message class, built once (its descriptor set is not free to make)."""
    info = _TYPE_INFOS.get(message_class)
    if info is None:
        info = _TYPE_INFOS[message_class] = TypeInfo.of(message_class)
    return info


@dataclass(slots=True)
class Encoded:
    """A value ready to queue: ``data`` now, or ``finish()`` on the writer thread (device copies).

    ``host_bytes`` is the host memory a pending ``finish`` holds (its pinned copies), so that
    ``max_queue_bytes`` bounds device tensors too.
    """

    type_info: TypeInfo
    data: bytes | None = None
    finish: Callable[[], bytes] | None = None
    host_bytes: int = 0

    def payload(self) -> bytes:
        return self.data if self.data is not None else self.finish()

    @property
    def queued_bytes(self) -> int:
        return len(self.data) if self.data is not None else self.host_bytes


TENSOR_INFO = type_info_of(Tensor)


def encode_array(topic: str, value: np.ndarray) -> bytes:
    """A numpy array as ``simrec.Tensor`` bytes (the one copy), or an error naming the topic."""
    if value.dtype.kind not in TENSOR_KINDS:
        _check_array(topic, value)  # raises, naming the dtype
    return _encode_tensor(topic, value)


def _is_torch(value: Any) -> bool:
    return hasattr(value, "detach") and hasattr(value, "device") and hasattr(value, "numpy")


def _check_torch_dtype(topic: str, tensor: Any) -> None:
    """Reject a device tensor's dtype now: its encoding runs later, on the writer thread."""
    error = _TORCH_DTYPE_ERRORS.get(tensor.dtype)
    if error is None:
        import torch  # present: we hold a torch tensor

        try:
            encode_tensor(torch.empty(0, dtype=tensor.dtype))
            error = ""
        except TypeError as exc:  # complex, float8, quantized, ...
            error = str(exc)
        _TORCH_DTYPE_ERRORS[tensor.dtype] = error
    if error:
        raise UnsupportedValueError(f"cannot log a {tensor.dtype} tensor on {topic}: {error}")


def _host_copy(topic: str, value: Any) -> tuple[Any, Callable[[], None] | None]:
    """A private host copy of a device tensor, started asynchronously, and a wait for it.

    CPU tensors are returned as they are (the encoder copies them). On CUDA the copy goes into
    pinned memory with ``non_blocking=True`` and a CUDA event marks its end, so the simulator
    thread never waits for the device.
    """
    tensor = value.detach()
    if tensor.device.type == "cpu":
        return tensor, None
    _check_torch_dtype(topic, tensor)
    import torch  # present: we hold a torch tensor

    if tensor.device.type == "cuda":
        host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
        host.copy_(tensor, non_blocking=True)
        event = torch.cuda.Event()
        event.record(torch.cuda.current_stream(tensor.device))
        return host, event.synchronize
    return tensor.to("cpu"), None


def _check_array(topic: str, value: Any) -> Any:
    """Reject what a simrec.Tensor cannot hold, naming the topic and the type."""
    if isinstance(value, np.ndarray):
        array = value
    elif _is_torch(value):
        return value
    else:
        try:
            array = np.asarray(value)
        except ValueError as exc:  # ragged nested lists
            raise UnsupportedValueError(
                f"cannot log {type(value).__name__} on {topic}: not a rectangular array ({exc})"
            ) from None
    if array.dtype.kind not in TENSOR_KINDS:
        raise UnsupportedValueError(
            f"cannot log an array of dtype {array.dtype} on {topic}: simrec tensors hold bool, "
            "integer and float arrays (convert it, or log a protobuf message)"
        )
    return array


def _is_scalar(value: Any) -> bool:
    return isinstance(value, numbers.Real | np.bool_) and not isinstance(value, np.ndarray)


def _scalars(values: Mapping[str, Any], step: int | None, sim_time: float | None) -> bytes:
    message = Scalars(step=step or 0, sim_time=sim_time or 0.0)
    for key, number in values.items():
        message.values[key] = float(number)
    return message.SerializeToString()


def _image(topic: str, value: Any, image_format: str, stamp_ns: int) -> Encoded:
    if _is_torch(value):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise UnsupportedValueError(
            f"cannot log {type(value).__name__} {array.dtype}{list(array.shape)} as an image on {topic}: "
            "expected an HxWx3 (or HxW) uint8 array"
        )
    try:
        data = encode_compressed_image(array, format=image_format, stamp_ns=stamp_ns)
    except ValueError as exc:
        raise UnsupportedValueError(f"cannot log an image on {topic}: {exc}") from None
    return Encoded(type_info_of(CompressedImage), data)


def _batch(topic: str, value: Mapping[Any, Any], step: int | None, sim_time: float | None) -> Encoded:
    tensors: dict[str, Any] = {}
    waits: list[Callable[[], None]] = []
    host_bytes = 0
    for key, item in value.items():
        if not isinstance(key, str):
            raise UnsupportedValueError(f"cannot log a dict with {type(key).__name__} keys on {topic}")
        if _is_torch(item):
            item, wait = _host_copy(f"{topic} [{key!r}]", item)
            if wait is not None:
                waits.append(wait)
                host_bytes += item.nbytes
        tensors[key] = _check_array(f"{topic} [{key!r}]", item)
    kwargs = {"step": step or 0, "sim_time": sim_time or 0.0}
    if not waits:
        try:
            return Encoded(type_info_of(StateBatch), encode_state_batch(tensors, **kwargs))
        except TypeError as exc:  # dtypes the codec lacks (complex, ...)
            raise UnsupportedValueError(f"cannot log a dict of arrays on {topic}: {exc}") from None

    def finish() -> bytes:
        for wait in waits:
            wait()
        return encode_state_batch(tensors, **kwargs)

    return Encoded(type_info_of(StateBatch), finish=finish, host_bytes=host_bytes)


def encode_value(
    topic: str,
    value: Any,
    *,
    step: int | None = None,
    sim_time: float | None = None,
    image: bool = False,
    image_format: str = "jpeg",
    stamp_ns: int | None = None,
) -> Encoded:
    """Pick the message type for ``value`` and serialize it (or start its device copy).

    protobuf message -> itself; numpy array / torch tensor -> ``simrec.Tensor``; dict of arrays
    -> ``simrec.StateBatch``; number -> ``simrec.Scalars`` {"value": x}; dict of numbers ->
    ``simrec.Scalars``; with ``image=True`` an HxWx3 uint8 array -> ``foxglove.CompressedImage``.

    Raises:
        UnsupportedValueError: for anything else (object or string arrays, ragged lists, ...).
    """
    if value.__class__ is np.ndarray and not image:  # what a sim logs every step: the cheapest path
        return Encoded(TENSOR_INFO, encode_array(topic, value))
    if isinstance(value, Message):
        return Encoded(type_info_of(type(value)), value.SerializeToString())
    if image:
        return _image(topic, value, image_format, time.time_ns() if stamp_ns is None else stamp_ns)
    # Arrays and tensors first: a sim logs them every step, and each check costs.
    if isinstance(value, np.ndarray):
        return Encoded(type_info_of(Tensor), _encode_tensor(topic, _check_array(topic, value)))
    if _is_torch(value):
        if value.device.type == "cpu":
            return Encoded(type_info_of(Tensor), _encode_tensor(topic, value))
        host, wait = _host_copy(topic, value)
        if wait is None:
            return Encoded(type_info_of(Tensor), _encode_tensor(topic, host))

        def finish() -> bytes:
            wait()
            return encode_tensor(host)

        return Encoded(type_info_of(Tensor), finish=finish, host_bytes=host.nbytes)
    if _is_scalar(value):
        return Encoded(type_info_of(Scalars), _scalars({"value": value}, step, sim_time))
    if isinstance(value, Mapping):
        if value and all(_is_scalar(v) for v in value.values()):
            bad = [k for k in value if not isinstance(k, str)]
            if bad:
                raise UnsupportedValueError(f"cannot log a dict with {type(bad[0]).__name__} keys on {topic}")
            return Encoded(type_info_of(Scalars), _scalars(value, step, sim_time))
        return _batch(topic, value, step, sim_time)
    if isinstance(value, list | tuple) or hasattr(value, "__array__"):
        return Encoded(type_info_of(Tensor), _encode_tensor(topic, _check_array(topic, value)))
    raise UnsupportedValueError(
        f"cannot log {type(value).__name__} on {topic}: log a protobuf message, a numpy array or "
        "torch tensor, a number, or a dict of those"
    )


def _encode_tensor(topic: str, value: Any) -> bytes:
    try:
        return encode_tensor(value)
    except TypeError as exc:  # dtypes the codec lacks (complex, ...)
        raise UnsupportedValueError(f"cannot log {type(value).__name__} on {topic}: {exc}") from None
