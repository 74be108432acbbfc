"""Descriptor sets, message classes rebuilt from them, and the Foxglove classes."""

from __future__ import annotations

import foxglove.messages
import numpy as np
import pytest
from google.protobuf import descriptor_pb2, timestamp_pb2

import simrec_node.msgs as msgs
from simrec_node.msgs import (
    Clock,
    CompressedImage,
    FrameTransforms,
    RawImage,
    Scalars,
    SceneUpdate,
    StateBatch,
    Tensor,
    decode_state_batch,
    descriptor_set_of,
    encode_state_batch,
    foxglove_message_class,
    message_class_for,
)


def file_names(descriptor_set: bytes) -> list[str]:
    return [f.name for f in descriptor_pb2.FileDescriptorSet.FromString(descriptor_set).file]


def assert_dependencies_first(descriptor_set: bytes) -> None:
    seen: set[str] = set()
    for file in descriptor_pb2.FileDescriptorSet.FromString(descriptor_set).file:
        assert file.name not in seen, f"{file.name} twice"
        assert set(file.dependency) <= seen, f"{file.name} before its dependencies"
        seen.add(file.name)


def test_state_batch_set_lists_tensor_first() -> None:
    assert file_names(descriptor_set_of(StateBatch)) == ["simrec/tensor.proto", "simrec/state_batch.proto"]
    assert descriptor_set_of(StateBatch()) == descriptor_set_of(StateBatch)  # an instance works too


def test_clock_set_includes_timestamp() -> None:
    assert file_names(descriptor_set_of(Clock)) == ["google/protobuf/timestamp.proto", "simrec/clock.proto"]


@pytest.mark.parametrize("cls", [Tensor, Scalars, StateBatch, Clock, SceneUpdate, FrameTransforms])
def test_every_file_once_after_its_dependencies(cls) -> None:
    assert_dependencies_first(descriptor_set_of(cls))


def test_message_class_for_rebuilds_and_parses() -> None:
    tensors = {"qpos": np.arange(6, dtype=np.float32).reshape(2, 3)}
    encoded = encode_state_batch(tensors, step=5, sim_time=0.5)
    rebuilt = message_class_for("simrec.StateBatch", descriptor_set_of(StateBatch))
    assert rebuilt is not StateBatch  # a private pool, not the generated class
    msg = rebuilt.FromString(encoded)
    assert (msg.step, msg.sim_time, msg.num_envs) == (5, 0.5, 2)
    assert list(msg.tensors["qpos"].float32_data) == [0, 1, 2, 3, 4, 5]
    assert StateBatch.FromString(msg.SerializeToString()) == StateBatch.FromString(encoded)
    assert decode_state_batch(msg.SerializeToString()).tensors["qpos"].shape == (2, 3)


def test_message_class_for_caches_and_finds_dependencies() -> None:
    data = descriptor_set_of(StateBatch)
    cls = message_class_for("simrec.StateBatch", data)
    assert message_class_for(".simrec.StateBatch", bytes(data)) is cls
    tensor_cls = message_class_for("simrec.Tensor", data)  # a type from a dependency
    assert (
        cls.DESCRIPTOR.fields_by_name["tensors"].message_type.fields_by_name["value"].message_type
        is tensor_cls.DESCRIPTOR
    )


def test_message_class_for_timestamp_dependency() -> None:
    cls = message_class_for("simrec.Clock", descriptor_set_of(Clock))
    msg = cls(step=3)
    msg.clock.FromNanoseconds(1_500_000_000)
    parsed = Clock.FromString(msg.SerializeToString())
    assert parsed.step == 3 and parsed.clock == timestamp_pb2.Timestamp(seconds=1, nanos=500_000_000)


def test_unordered_set_and_missing_well_known_types() -> None:
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set_of(Clock))
    only_clock = descriptor_pb2.FileDescriptorSet(file=[files.file[1]])  # timestamp.proto left out
    assert message_class_for("simrec.Clock", only_clock.SerializeToString())(step=1).step == 1
    batch = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set_of(StateBatch))
    reversed_set = descriptor_pb2.FileDescriptorSet(file=list(reversed(batch.file)))
    assert message_class_for("simrec.StateBatch", reversed_set.SerializeToString())().num_envs == 0


def test_message_class_for_errors() -> None:
    data = descriptor_set_of(StateBatch)
    with pytest.raises(ValueError, match=r"simrec\.Nope"):
        message_class_for("simrec.Nope", data)
    with pytest.raises(ValueError, match="FileDescriptorSet"):
        message_class_for("simrec.StateBatch", b"\xff\xff\xff")
    lone = descriptor_pb2.FileDescriptorSet(
        file=[descriptor_pb2.FileDescriptorSet.FromString(data).file[1]]
    )  # state_batch.proto without tensor.proto
    with pytest.raises(ValueError, match=r"simrec/tensor\.proto"):
        message_class_for("simrec.StateBatch", lone.SerializeToString())


# --- Foxglove --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["CompressedImage", "RawImage", "FrameTransforms", "FrameTransform", "SceneUpdate", "Log"]
)
def test_foxglove_classes_match_the_sdk_schema(name: str) -> None:
    schema = getattr(foxglove.messages, name).get_schema()
    cls = foxglove_message_class(name)
    assert cls.DESCRIPTOR.full_name == schema.name == f"foxglove.{name}"
    assert foxglove_message_class(f"foxglove.{name}") is cls
    sdk_fields = message_class_for(schema.name, schema.data).DESCRIPTOR.fields_by_name
    assert {n: f.number for n, f in cls.DESCRIPTOR.fields_by_name.items()} == {
        n: f.number for n, f in sdk_fields.items()
    }
    assert file_names(descriptor_set_of(cls))[-1] == f"foxglove/{name}.proto"
    assert_dependencies_first(descriptor_set_of(cls))


def test_module_level_foxglove_classes() -> None:
    assert CompressedImage is foxglove_message_class("CompressedImage")
    assert RawImage is foxglove_message_class("RawImage")
    assert FrameTransforms is foxglove_message_class("FrameTransforms")
    assert SceneUpdate is foxglove_message_class("SceneUpdate")


def test_foxglove_nested_types_share_one_pool() -> None:
    transform = foxglove_message_class("FrameTransform")(parent_frame_id="world", child_frame_id="base")
    transform.translation.x = 1.0
    msg = FrameTransforms(transforms=[transform])
    schema = foxglove.messages.FrameTransforms.get_schema()
    parsed = message_class_for(schema.name, schema.data).FromString(msg.SerializeToString())
    assert parsed.transforms[0].child_frame_id == "base" and parsed.transforms[0].translation.x == 1.0
    color = foxglove_message_class("Color")(r=1.0, a=1.0)
    assert color.r == 1.0


def test_unknown_foxglove_type() -> None:
    with pytest.raises(ValueError, match="NotAType"):
        foxglove_message_class("NotAType")


def test_public_exports() -> None:
    for name in msgs.__all__:
        assert getattr(msgs, name) is not None
