"""Protobuf classes for Foxglove's own message types, built from the schemas foxglove-sdk ships.

foxglove-sdk carries each schema as a ``FileDescriptorSet`` (``foxglove.messages.X.get_schema()``)
but no Python protobuf code. All of them go into one private descriptor pool, so nested types
are shared: a ``FrameTransform`` from ``foxglove_message_class("FrameTransform")`` is the very
class ``FrameTransforms.transforms`` holds.
"""

from __future__ import annotations

import functools
from typing import Any

import foxglove.messages
from google.protobuf import descriptor_pb2
from google.protobuf.message import Message

from simrec_node.msgs.schema import message_class_for

__all__ = [
    "CompressedImage",
    "FrameTransform",
    "FrameTransforms",
    "Log",
    "RawImage",
    "SceneUpdate",
    "foxglove_message_class",
]


def _schema_classes() -> dict[str, Any]:
    """foxglove-sdk message classes that carry a protobuf schema, by short name."""
    found = {}
    for name in dir(foxglove.messages):
        cls = getattr(foxglove.messages, name)
        if isinstance(cls, type) and callable(getattr(cls, "get_schema", None)):
            found[name] = cls
    return found


@functools.cache
def _merged_descriptor_set() -> bytes:
    """One FileDescriptorSet with every file of every foxglove schema, each file once."""
    merged = descriptor_pb2.FileDescriptorSet()
    seen: set[str] = set()
    for cls in _schema_classes().values():
        schema = cls.get_schema()
        if schema.encoding != "protobuf":
            continue
        for file in descriptor_pb2.FileDescriptorSet.FromString(schema.data).file:
            if file.name not in seen:  # files arrive after their dependencies
                seen.add(file.name)
                merged.file.append(file)
    return merged.SerializeToString()


@functools.cache
def foxglove_message_class(name: str) -> type[Message]:
    """The protobuf class for a Foxglove message type, e.g. ``"CompressedImage"`` or
    ``"foxglove.CompressedImage"``, including nested ones such as ``"Color"``.
    """
    full_name = name if name.startswith("foxglove.") else f"foxglove.{name}"
    try:
        return message_class_for(full_name, _merged_descriptor_set())
    except ValueError:
        raise ValueError(f"foxglove-sdk has no protobuf schema for {name!r}") from None


# The types simrec records; built at import (one pool for all of foxglove-sdk, ~30 ms).
CompressedImage = foxglove_message_class("CompressedImage")
RawImage = foxglove_message_class("RawImage")
FrameTransform = foxglove_message_class("FrameTransform")
FrameTransforms = foxglove_message_class("FrameTransforms")
SceneUpdate = foxglove_message_class("SceneUpdate")
Log = foxglove_message_class("Log")
