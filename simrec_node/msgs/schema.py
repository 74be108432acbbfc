"""Protobuf schemas as self-contained descriptor sets, and message classes built from them.

MCAP stores a protobuf channel's schema as a serialized ``FileDescriptorSet`` so that a reader
can decode messages it has no generated code for. ``descriptor_set_of`` writes one for a
generated class; ``message_class_for`` turns one back into a class, in a private descriptor
pool so that foreign or differently versioned schemas never clash with the default pool.
"""

from __future__ import annotations

import functools
import hashlib
import threading

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import FileDescriptor
from google.protobuf.message import DecodeError, Message

__all__ = ["descriptor_set_of", "message_class_for"]


def _files_in_dependency_order(root: FileDescriptor) -> list[FileDescriptor]:
    """``root`` and everything it imports, each once, every file after its dependencies."""
    ordered: list[FileDescriptor] = []
    seen: set[str] = set()

    def visit(file: FileDescriptor) -> None:
        if file.name in seen:
            return
        seen.add(file.name)
        for dependency in file.dependencies:
            visit(dependency)
        ordered.append(file)

    visit(root)
    return ordered


@functools.cache
def _descriptor_set_of_file(root: FileDescriptor) -> bytes:
    files = descriptor_pb2.FileDescriptorSet()
    for file in _files_in_dependency_order(root):
        files.file.add().MergeFromString(file.serialized_pb)
    return files.SerializeToString()


def descriptor_set_of(message_class: type[Message] | Message) -> bytes:
    """Serialized ``FileDescriptorSet`` for a message type: its file and all transitive
    dependencies, dependencies first, each file once (the form MCAP schemas use).
    """
    return _descriptor_set_of_file(message_class.DESCRIPTOR.file)


def _parse_set(descriptor_set: bytes) -> descriptor_pb2.FileDescriptorSet:
    try:
        return descriptor_pb2.FileDescriptorSet.FromString(descriptor_set)
    except DecodeError as exc:
        raise ValueError(f"not a serialized FileDescriptorSet: {exc}") from None


def _build_pool(descriptor_set: bytes) -> descriptor_pool.DescriptorPool:
    """A private pool holding every file of the set, added dependencies first.

    Writers do not all order the files, and some leave out the well-known types
    (google/protobuf/*.proto): those are taken from the default pool.
    """
    by_name = {file.name: file for file in _parse_set(descriptor_set).file}
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add(name: str, importer: str) -> None:
        if name in added:
            return
        added.add(name)
        file = by_name.get(name)
        if file is None:
            file = _well_known_file(name, importer)
        for dependency in file.dependency:
            add(dependency, name)
        try:
            pool.Add(file)
        except (TypeError, ValueError) as exc:  # upb reports a bad descriptor as TypeError
            raise ValueError(f"cannot load {name!r} from the descriptor set: {exc}") from None

    for name in by_name:
        add(name, "")
    return pool


def _well_known_file(name: str, importer: str) -> descriptor_pb2.FileDescriptorProto:
    missing = ValueError(f"descriptor set lacks {name!r}, imported by {importer!r}")
    if not name.startswith("google/protobuf/"):  # only those are the same everywhere
        raise missing
    try:
        serialized = descriptor_pool.Default().FindFileByName(name).serialized_pb
    except KeyError:
        raise missing from None
    return descriptor_pb2.FileDescriptorProto.FromString(serialized)


_POOLS: dict[bytes, descriptor_pool.DescriptorPool] = {}
_CLASSES: dict[tuple[str, bytes], type[Message]] = {}
_LOCK = threading.Lock()


def message_class_for(type_name: str, descriptor_set: bytes) -> type[Message]:
    """The message class for ``type_name`` (e.g. ``"foxglove.CompressedImage"``) built from a
    serialized ``FileDescriptorSet``, so that types without generated code still decode.

    Classes are cached by (type name, digest of the set); one private pool per distinct set.
    """
    type_name = type_name.removeprefix(".")
    digest = hashlib.sha256(descriptor_set).digest()
    cls = _CLASSES.get((type_name, digest))
    if cls is not None:
        return cls
    with _LOCK:
        pool = _POOLS.get(digest)
        if pool is None:
            pool = _POOLS[digest] = _build_pool(bytes(descriptor_set))
        try:
            descriptor = pool.FindMessageTypeByName(type_name)
        except KeyError:
            raise ValueError(f"message type {type_name!r} is not in the descriptor set") from None
        cls = _CLASSES[type_name, digest] = message_factory.GetMessageClass(descriptor)
    return cls
