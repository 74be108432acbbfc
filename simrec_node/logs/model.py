"""The reader's two types: a channel (topic, encodings, schema) and a raw recorded message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class Channel:
    """One channel of a log: its topic, message encoding and schema.

    ``id`` is the log's id (a split log maps each file's ids onto one set, one channel per
    topic, type and encodings). Compared by identity: a log holds one object per channel.
    """

    id: int
    topic: str
    message_encoding: str
    schema_name: str
    schema_encoding: str
    schema_data: bytes
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, bytes, str]:
        """What makes two files' channels one channel of a split log."""
        return (self.topic, self.schema_name, self.schema_encoding, self.schema_data, self.message_encoding)


@dataclass(slots=True)
class Message:
    """One recorded message, payload untouched (``data`` may be a view of a decompressed chunk:
    copy what you keep past the next message)."""

    channel: Channel
    sequence: int
    log_time: int
    publish_time: int
    data: Any

    @property
    def topic(self) -> str:
        return self.channel.topic

    @property
    def type_name(self) -> str:
        return self.channel.schema_name
