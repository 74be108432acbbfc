"""Read back what the in-process recorder wrote, with the mcap reader and the stored schemas."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from mcap.reader import make_reader

from simrec_node.msgs import message_class_for


def read_messages(path: Path) -> dict[str, list[tuple[Any, Any]]]:
    """topic -> [(mcap message, decoded protobuf message)] in log order, decoded by stored schema."""
    out: dict[str, list[tuple[Any, Any]]] = defaultdict(list)
    with open(path, "rb") as f:
        for schema, channel, message in make_reader(f).iter_messages(log_time_order=False):
            cls = message_class_for(schema.name, schema.data)
            out[channel.topic].append((message, cls.FromString(message.data)))
    return out


def read_metadata(path: Path) -> list[tuple[str, dict[str, str]]]:
    with open(path, "rb") as f:
        return [(m.name, dict(m.metadata)) for m in make_reader(f).iter_metadata()]
