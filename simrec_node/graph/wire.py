"""What travels with each message besides its payload.

The payload is the serialized protobuf, untouched. The Zenoh encoding names the protobuf
type (``application/protobuf;simrec.StateBatch``) and a 24-byte attachment carries the
publisher's id, its sequence number and its timestamp, so a recorder can store
``publish_time`` and count gaps without decoding anything.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import zenoh

_HEADER = struct.Struct("<QQq")
HEADER_SIZE = _HEADER.size
pack_header = _HEADER.pack
unpack_header = _HEADER.unpack
_ENCODING_PREFIX = "application/protobuf;"


def encoding_for(type_name: str) -> zenoh.Encoding:
    return zenoh.Encoding(_ENCODING_PREFIX + type_name)


def type_name_of(encoding: str) -> str:
    """The protobuf type name an encoding string names, or ``''`` if it names none."""
    return encoding[len(_ENCODING_PREFIX) :] if encoding.startswith(_ENCODING_PREFIX) else ""


@dataclass(slots=True)
class RawMessage:
    """A message as it arrived: serialized bytes plus where, what and when.

    ``publish_time_ns`` is the publisher's stamp, ``receive_time_ns`` the subscriber's wall
    clock on arrival; ``sequence`` counts per publisher (``publisher_id``) from 0.
    """

    topic: str
    type_name: str
    data: bytes
    publisher_id: int
    sequence: int
    publish_time_ns: int
    receive_time_ns: int
