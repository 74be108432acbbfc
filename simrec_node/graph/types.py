"""A message type as the graph knows it: the protobuf name plus its schema bytes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from google.protobuf.message import Message

from simrec_node.msgs.schema import descriptor_set_of, message_class_for


@dataclass(frozen=True)
class TypeInfo:
    """``name`` is the full protobuf name; ``descriptor_set`` a serialized FileDescriptorSet.

    Carrying the schema with the name is what lets a recorder, echo or player handle a type
    it has no generated code for.
    """

    name: str
    descriptor_set: bytes

    @classmethod
    def of(cls, message_type: type[Message] | TypeInfo) -> TypeInfo:
        if isinstance(message_type, TypeInfo):
            return message_type
        return cls(message_type.DESCRIPTOR.full_name, descriptor_set_of(message_type))

    @cached_property
    def message_class(self) -> type[Message]:
        return message_class_for(self.name, self.descriptor_set)
