"""The hand-written Tensor/StateBatch wire codec, checked against the protobuf library."""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from simrec_node.msgs import (
    StateBatch,
    StateBatchView,
    Tensor,
    decode_state_batch,
    decode_tensor,
    encode_state_batch,
    encode_tensor,
    numpy_to_tensor,
    tensor_to_numpy,
)
from simrec_node.msgs.simrec.tensor_pb2 import DType

# dtype -> (simrec.DType name, data field, dtype the field holds)
DTYPES = {
    "float32": ("FLOAT32", "float32_data", np.float32),
    "float64": ("FLOAT64", "float64_data", np.float64),
    "float16": ("FLOAT16", "float32_data", np.float32),
    "int8": ("INT8", "int32_data", np.int32),
    "int16": ("INT16", "int32_data", np.int32),
    "int32": ("INT32", "int32_data", np.int32),
    "int64": ("INT64", "int64_data", np.int64),
    "uint8": ("UINT8", "bytes_data", np.uint8),
    "uint16": ("UINT16", "uint32_data", np.uint32),
    "uint32": ("UINT32", "uint32_data", np.uint32),
    "uint64": ("UINT64", "uint64_data", np.uint64),
    "bool": ("BOOL", "bytes_data", np.uint8),
}
DATA_FIELDS = [
    "float32_data",
    "float64_data",
    "int32_data",
    "int64_data",
    "uint32_data",
    "uint64_data",
    "bytes_data",
]
SHAPES = [(), (0,), (1,), (5,), (2, 3), (2, 0, 4), (1, 1, 1, 3)]


def sample(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """Values that exercise the edges of each dtype (extremes, NaN, inf, -0.0)."""
    dt = np.dtype(dtype)
    n = int(np.prod(shape))
    if dt.kind == "b":
        pool = np.array([True, False, True])
    elif dt.kind == "f":
        info = np.finfo(dt)
        pool = np.array([0.0, -0.0, 1.5, -2.25, np.nan, np.inf, -np.inf, info.max, info.tiny], dtype=dt)
    else:
        info = np.iinfo(dt)
        pool = np.array([0, 1, info.min, info.max, info.max // 3], dtype=dt)
    return np.resize(pool, n).reshape(shape)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal dtype (ignoring byte order), shape and values, NaN == NaN and -0.0 != 0.0."""
    if a.dtype.newbyteorder("=") != b.dtype.newbyteorder("=") or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        return np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a), np.signbit(b))
    return np.array_equal(a, b)


def protobuf_tensor(array: np.ndarray) -> Tensor:
    """The same message built the slow way, through the protobuf API."""
    name, field, held = DTYPES[array.dtype.name]
    msg = Tensor(dtype=name, shape=list(array.shape))
    flat = np.ascontiguousarray(array).astype(held).ravel()
    if field == "bytes_data":
        msg.bytes_data = flat.tobytes()
    else:
        getattr(msg, field).extend(flat.tolist())
    return msg


# --- tiny wire writer for hand-made, non-canonical encodings -------------------------------


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def tag(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def ld(field: int, payload: bytes) -> bytes:
    return tag(field, 2) + varint(len(payload)) + payload


def vi(field: int, value: int) -> bytes:
    return tag(field, 0) + varint(value)


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_round_trip_every_dtype_and_shape(dtype: str, shape: tuple[int, ...]) -> None:
    array = sample(dtype, shape)
    assert same(decode_tensor(encode_tensor(array)), array)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_protobuf_reads_what_we_write(dtype: str, shape: tuple[int, ...]) -> None:
    array = sample(dtype, shape)
    encoded = encode_tensor(array)
    msg = Tensor.FromString(encoded)
    name, field, held = DTYPES[dtype]
    assert DType.Name(msg.dtype) == name
    assert list(msg.shape) == list(shape)
    if field == "bytes_data":
        assert msg.bytes_data == array.astype(np.uint8).tobytes()
    else:
        assert same(np.array(getattr(msg, field), dtype=held), array.astype(held).ravel())
    assert all(not getattr(msg, other) for other in DATA_FIELDS if other != field)
    # byte-identical to protobuf's own serialization of the same message
    assert encoded == msg.SerializeToString() == protobuf_tensor(array).SerializeToString()


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_decodes_what_protobuf_writes(dtype: str) -> None:
    array = sample(dtype, (3, 4))
    assert same(decode_tensor(protobuf_tensor(array).SerializeToString()), array)
    assert same(tensor_to_numpy(protobuf_tensor(array)), array)


def test_numpy_to_tensor_is_a_protobuf_object() -> None:
    msg = numpy_to_tensor(np.arange(6, dtype=np.float64).reshape(2, 3))
    assert isinstance(msg, Tensor)
    assert msg.dtype == DType.Value("FLOAT64")
    assert list(msg.shape) == [2, 3]
    assert list(msg.float64_data) == [0, 1, 2, 3, 4, 5]
    assert same(tensor_to_numpy(msg), np.arange(6, dtype=np.float64).reshape(2, 3))


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a.T,
        lambda a: a[::2, ::-3],
        lambda a: np.asfortranarray(a),
        lambda a: a[:, 1],
        lambda a: np.broadcast_to(a[:1], a.shape),
    ],
    ids=["transposed", "strided-reversed", "fortran", "column", "broadcast"],
)
def test_non_contiguous_input(make) -> None:
    array = make(np.arange(48, dtype=np.float32).reshape(6, 8))
    assert not array.flags.c_contiguous or array.strides == (0, 4) or array.ndim == 1
    assert same(decode_tensor(encode_tensor(array)), np.ascontiguousarray(array))


@pytest.mark.parametrize("dtype", [">f4", ">f8", ">f2", ">i2", ">i4", ">i8", ">u2", ">u4", ">u8"])
def test_big_endian_input(dtype: str) -> None:
    array = np.arange(-3, 9).reshape(3, 4).astype(dtype) if "u" not in dtype else np.arange(12).astype(dtype)
    encoded = encode_tensor(array)
    assert encoded == encode_tensor(array.astype(np.dtype(dtype).newbyteorder("<")))
    assert same(decode_tensor(encoded), array)


def test_python_scalars_and_lists() -> None:
    assert same(decode_tensor(encode_tensor(3.5)), np.array(3.5))
    assert same(decode_tensor(encode_tensor(True)), np.array(True))
    assert same(decode_tensor(encode_tensor([[1, 2], [3, 4]])), np.array([[1, 2], [3, 4]]))
    assert same(decode_tensor(encode_tensor(np.float32(2))), np.array(2, dtype=np.float32))


def test_zero_copy_read_only_views() -> None:
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    encoded = encode_tensor(array)
    decoded = decode_tensor(encoded)
    assert not decoded.flags.writeable
    assert np.shares_memory(decoded, np.frombuffer(encoded, dtype=np.uint8))
    mutable = bytearray(encoded)
    view = decode_tensor(mutable)
    assert not view.flags.writeable  # even over a writable buffer
    assert np.shares_memory(view, np.frombuffer(mutable, dtype=np.uint8))
    assert same(decode_tensor(memoryview(encoded)), array)
    assert same(decode_tensor(np.frombuffer(encoded, dtype=np.uint8)), array)


def test_widened_types_come_back_writable() -> None:
    decoded = decode_tensor(encode_tensor(np.arange(4, dtype=np.int8)))
    assert decoded.dtype == np.int8 and decoded.flags.writeable


@pytest.mark.torch
def test_torch_tensors_encode_like_numpy() -> None:
    torch = pytest.importorskip("torch")
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert encode_tensor(torch.from_numpy(array)) == encode_tensor(array)
    assert encode_tensor(torch.from_numpy(array).T) == encode_tensor(array.T)  # non-contiguous view
    grad = torch.ones(3, requires_grad=True) * 2
    assert same(decode_tensor(encode_tensor(grad)), np.full(3, 2, dtype=np.float32))
    bf16 = Tensor.FromString(encode_tensor(torch.from_numpy(array).to(torch.bfloat16)))
    assert bf16.dtype == DType.Value("BFLOAT16")
    assert list(bf16.float32_data) == [0, 1, 2, 3, 4, 5]
    assert same(decode_tensor(bf16.SerializeToString()), array)  # numpy has no bfloat16
    batch = decode_state_batch(encode_state_batch({"q": torch.zeros(4, 2, dtype=torch.float64)}))
    assert batch.num_envs == 4 and batch.tensors["q"].dtype == np.float64
    # Lazy views that .numpy() refuses: the values, not the unresolved storage, are encoded.
    assert same(decode_tensor(encode_tensor(torch.from_numpy(array)._neg_view())), -array)
    conj = torch.tensor([1 + 2j]).conj()
    with pytest.raises(TypeError, match="complex"):
        encode_tensor(conj)


# --- any valid encoding ----------------------------------------------------------------------


def agrees_with_protobuf(encoded: bytes) -> np.ndarray:
    """Decode a hand-made encoding and check it against protobuf's reading of it."""
    ours = decode_tensor(encoded)
    reference = decode_tensor(Tensor.FromString(encoded).SerializeToString())
    assert same(ours, reference)
    return ours


def test_fields_in_any_order_and_unknown_fields() -> None:
    data = np.array([1.5, -2, 3, 4, 5, 6], dtype="<f4")
    unknown = b"".join(
        [
            vi(20, 300),
            tag(21, 5) + b"abcd",
            tag(22, 1) + b"12345678",
            ld(23, b"skip me"),
            tag(24, 3) + vi(1, 7) + tag(24, 4),  # a group, holding a field 1 of its own
        ]
    )
    encoded = unknown + ld(3, data.tobytes()) + ld(2, varint(2) + varint(3)) + vi(1, 1)
    assert same(agrees_with_protobuf(encoded), data.reshape(2, 3))


def test_unpacked_repeated_fields() -> None:
    data = np.array([7, -8, 9], dtype="<i8")
    encoded = vi(1, 8) + vi(2, 3)
    encoded += b"".join(tag(6, 1) + struct.pack("<q", int(v)) for v in data)
    assert same(agrees_with_protobuf(encoded), data)


def test_repeated_occurrences_merge_like_protobuf() -> None:
    # packed data in two pieces, shape in two pieces, dtype given twice (last wins)
    encoded = b"".join(
        [
            vi(1, 2),
            ld(2, varint(2)),
            ld(3, struct.pack("<3f", 1, 2, 3)),
            ld(2, varint(2)),
            ld(3, struct.pack("<f", 4)),
            vi(1, 1),
        ]
    )
    assert same(agrees_with_protobuf(encoded), np.array([[1, 2], [3, 4]], dtype=np.float32))
    # bytes_data is singular: the last occurrence wins
    encoded = vi(1, 9) + ld(2, varint(2)) + ld(9, b"zzz") + ld(9, b"\x05\x06")
    assert same(agrees_with_protobuf(encoded), np.array([5, 6], dtype=np.uint8))


def test_missing_dtype_is_read_from_the_data_field() -> None:
    encoded = ld(2, varint(2)) + ld(4, struct.pack("<2d", 0.5, 1.5))
    assert same(agrees_with_protobuf(encoded), np.array([0.5, 1.5]))


def test_bool_bytes_other_than_one_read_as_true() -> None:
    encoded = vi(1, 13) + ld(2, varint(3)) + ld(9, b"\x00\x02\xff")
    assert same(decode_tensor(encoded), np.array([False, True, True]))


def test_overlong_varints() -> None:
    encoded = b"\x88\x00" + b"\x81\x80\x00" + ld(2, b"\x82\x00") + ld(3, struct.pack("<2f", 1, 2))
    assert same(agrees_with_protobuf(encoded), np.array([1, 2], dtype=np.float32))


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xff\xff",
        b"\x08",
        b"",  # no dtype, no data
        b"\x08\x01",  # a float32 scalar without its element
        b"\x08\x63\x1a\x04\x00\x00\x80\x3f",  # unknown dtype 99
        b"\x08\x01\x22\x08" + b"\x00" * 8,  # float32 dtype, data in float64_data
        b"\x08\x01\x12\x01\x03\x1a\x04\x00\x00\x80\x3f",  # shape [3], one element
        b"\x08\x01\x1a\x03\x00\x00\x80",  # 3 bytes of float32
        b"\x0d\x01\x00\x00\x00",  # dtype as fixed32
        b"\x08\x01\x1a\x05\x00\x00\x80\x3f",  # length past the end
        b"\x00\x01",  # field number 0
        b"\x08\x01\x0c",  # end-group without start
        b"\x08\x01\x0b\x10\x01",  # unterminated group
        b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # 11-byte varint
    ],
)
def test_malformed_data_raises_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match="malformed"):
        decode_tensor(data)


def test_every_truncation_is_rejected() -> None:
    encoded = encode_tensor(np.arange(300, dtype=np.int64).reshape(3, 100))
    for cut in range(len(encoded)):
        with pytest.raises(ValueError):
            decode_tensor(encoded[:cut])


@pytest.mark.parametrize(
    "array",
    [
        np.zeros(2, np.complex64),
        np.array([object()]),
        np.array(["a"]),
        np.array([b"a"]),
        np.zeros(2, "datetime64[s]"),
        np.zeros(2, np.longdouble),
    ],
    ids=["complex64", "object", "str", "bytes", "datetime64", "longdouble"],
)
def test_unsupported_dtype_raises_type_error(array: np.ndarray) -> None:
    if array.dtype.itemsize == 8 and array.dtype.kind == "f":
        pytest.skip("longdouble is float64 on this platform")
    with pytest.raises(TypeError, match=re.escape(str(array.dtype))) as info:
        encode_tensor(array)
    assert "\n" not in str(info.value)


def test_not_bytes_raises_type_error() -> None:
    with pytest.raises(TypeError):
        decode_tensor(12)  # type: ignore[arg-type]


# --- properties ------------------------------------------------------------------------------

SUPPORTED = st.sampled_from([np.dtype(d) for d in DTYPES] + [np.dtype(">f4"), np.dtype(">i8")])
ARRAYS = hnp.arrays(SUPPORTED, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))


@given(ARRAYS)
@settings(max_examples=300, deadline=None)
def test_property_round_trip_and_protobuf_agreement(array: np.ndarray) -> None:
    encoded = encode_tensor(array)
    assert same(decode_tensor(encoded), array)
    msg = Tensor.FromString(encoded)
    assert msg.SerializeToString() == encoded
    assert list(msg.shape) == list(array.shape)


@given(ARRAYS.filter(lambda a: a.size > 0), st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_property_mutated_encodings(array: np.ndarray, data: st.DataObject) -> None:
    """A corrupted encoding either raises ValueError or decodes to what protobuf reads."""
    encoded = bytearray(encode_tensor(array))
    position = data.draw(st.integers(0, len(encoded) - 1))
    action = data.draw(st.sampled_from(["flip", "insert", "delete"]))
    byte = data.draw(st.integers(0, 255))
    if action == "flip":
        encoded[position] = byte
    elif action == "insert":
        encoded.insert(position, byte)
    else:
        del encoded[position]
    try:
        ours = decode_tensor(bytes(encoded))
    except ValueError:
        return
    try:
        reference = Tensor.FromString(bytes(encoded))
    except DecodeError:
        pytest.fail(f"decoded bytes protobuf rejects: {bytes(encoded)!r}")
    assert same(ours, tensor_to_numpy(reference))


# --- StateBatch ------------------------------------------------------------------------------


def make_batch(seed: int = 0, num_envs: int = 8) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "qpos": rng.standard_normal((num_envs, 7)).astype(np.float32),
        "reward": rng.standard_normal(num_envs),
        "done": rng.random(num_envs) < 0.5,
        "action": rng.integers(-5, 5, (num_envs, 2, 3), dtype=np.int16),
    }


def assert_batch(
    view: StateBatchView, tensors: dict[str, np.ndarray], step: int, sim_time: float, num_envs: int
) -> None:
    assert (view.step, view.sim_time, view.num_envs) == (step, sim_time, num_envs)
    assert list(view.tensors) == list(tensors)
    for name, array in tensors.items():
        assert same(view.tensors[name], array), name


def test_state_batch_round_trip() -> None:
    tensors = make_batch()
    encoded = encode_state_batch(tensors, step=12, sim_time=0.25)
    assert_batch(decode_state_batch(encoded), tensors, 12, 0.25, 8)


def test_protobuf_reads_our_state_batch() -> None:
    tensors = make_batch()
    msg = StateBatch.FromString(encode_state_batch(tensors, step=2**40, sim_time=-1.5, num_envs=8))
    assert (msg.step, msg.sim_time, msg.num_envs) == (2**40, -1.5, 8)
    assert sorted(msg.tensors) == sorted(tensors)
    for name, array in tensors.items():
        assert same(tensor_to_numpy(msg.tensors[name]), array)


def test_we_read_protobufs_state_batch() -> None:
    tensors = make_batch(seed=1)
    msg = StateBatch(step=99, sim_time=3.0, num_envs=8)
    for name, array in tensors.items():
        msg.tensors[name].CopyFrom(protobuf_tensor(array))
    view = decode_state_batch(msg.SerializeToString())
    assert (view.step, view.sim_time, view.num_envs) == (99, 3.0, 8)
    assert sorted(view.tensors) == sorted(tensors)
    for name, array in tensors.items():
        assert same(view.tensors[name], array)


def test_state_batch_defaults() -> None:
    assert encode_state_batch({}) == b"" == StateBatch().SerializeToString()
    assert decode_state_batch(b"") == StateBatchView(step=0, sim_time=0.0, num_envs=0, tensors={})
    assert decode_state_batch(encode_state_batch({"x": np.zeros((5, 2))})).num_envs == 5
    assert decode_state_batch(encode_state_batch({"x": 1.0})).num_envs == 0
    assert decode_state_batch(encode_state_batch({"x": np.zeros(5)}, num_envs=0)).num_envs == 0
    # proto3 leaves out +0.0 but keeps -0.0
    assert encode_state_batch({}, sim_time=-0.0) == StateBatch(sim_time=-0.0).SerializeToString()


def test_state_batch_stream_with_changing_layouts() -> None:
    """Same-length batches with different names or dtypes must not be confused."""
    first = {"qpos": np.arange(4.0), "qvel": np.ones(4)}
    second = {"qvel": np.arange(4.0) + 10, "qpos": np.zeros(4)}
    third = {"qpos": np.arange(4, dtype=np.int64), "qvel": np.ones(4)}
    for tensors in (first, second, third, first, make_batch(2), make_batch(3)):
        encoded = encode_state_batch(tensors, step=1)
        assert_batch(decode_state_batch(encoded), tensors, 1, 0.0, len(next(iter(tensors.values()))))


def test_state_batch_any_valid_encoding() -> None:
    a = encode_tensor(np.arange(3, dtype=np.float32))
    b = encode_tensor(np.array([True, False, True]))
    entry_c = ld(1, b"c") + ld(2, a)
    encoded = b"".join(
        [
            ld(4, ld(2, a) + ld(1, b"a")),  # value before key
            vi(9, 5),  # unknown field
            ld(4, ld(1, b"b") + ld(2, b)),
            vi(1, 3),  # step after the entries
            ld(4, ld(1, b"a") + ld(2, b)),  # duplicate key: the last wins
            vi(3, 2**32 + 3),  # uint32 num_envs: truncated
            b"\xa2\x00" + varint(len(entry_c)) + entry_c,  # entry behind an over-long tag
        ]
    )
    view = decode_state_batch(encoded)
    msg = StateBatch.FromString(encoded)
    assert (view.step, view.num_envs) == (msg.step, msg.num_envs) == (3, 3)
    assert sorted(view.tensors) == sorted(msg.tensors) == ["a", "b", "c"]
    for name in msg.tensors:
        assert same(view.tensors[name], tensor_to_numpy(msg.tensors[name]))


def test_state_batch_unknown_field_in_entry() -> None:
    # upb files such an entry under unknown fields; the spec (and we) just skip the field
    entry = ld(1, b"b") + tag(7, 5) + b"xxxx" + ld(2, encode_tensor(np.ones(2)))
    assert same(decode_state_batch(ld(4, entry)).tensors["b"], np.ones(2))


def test_state_batch_buffer_types() -> None:
    tensors = make_batch()
    encoded = encode_state_batch(tensors, step=4)
    for data in (bytearray(encoded), memoryview(encoded), np.frombuffer(encoded, np.uint8)):
        assert_batch(decode_state_batch(data), tensors, 4, 0.0, 8)
    view = decode_state_batch(encoded)
    assert not view.tensors["qpos"].flags.writeable
    assert np.shares_memory(view.tensors["qpos"], np.frombuffer(encoded, np.uint8))


def test_state_batch_bad_input() -> None:
    encoded = encode_state_batch(make_batch(), step=1, sim_time=2.0)
    for cut in range(len(encoded)):  # a cut between fields is a valid, shorter batch
        try:
            view = decode_state_batch(encoded[:cut])
        except ValueError:
            continue
        msg = StateBatch.FromString(encoded[:cut])
        assert sorted(view.tensors) == sorted(msg.tensors)
    with pytest.raises(ValueError, match="UTF-8"):
        decode_state_batch(ld(4, ld(1, b"\xff") + ld(2, encode_tensor(np.zeros(1)))))
    with pytest.raises(ValueError, match="wire type"):
        decode_state_batch(tag(1, 2) + varint(0))
    with pytest.raises(ValueError, match="uint64"):
        encode_state_batch({}, step=-1)
    with pytest.raises(ValueError, match="uint32"):
        encode_state_batch({}, num_envs=2**32)
    with pytest.raises(TypeError):
        encode_state_batch({1: np.zeros(2)})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        encode_state_batch({"x": np.zeros(2, np.complex128)})


@given(
    st.dictionaries(st.text(max_size=8), ARRAYS, max_size=4),
    st.integers(0, 2**64 - 1),
    st.floats(allow_nan=False),
)
@settings(max_examples=150, deadline=None)
def test_property_state_batch(tensors: dict[str, np.ndarray], step: int, sim_time: float) -> None:
    encoded = encode_state_batch(tensors, step=step, sim_time=sim_time, num_envs=3)
    view = decode_state_batch(encoded)
    assert_batch(view, tensors, step, sim_time, 3)
    msg = StateBatch.FromString(encoded)
    assert decode_state_batch(msg.SerializeToString()).tensors.keys() == tensors.keys()
    for name, array in tensors.items():
        assert same(tensor_to_numpy(msg.tensors[name]), array)
