"""The topics a layout is made for: a log's channels, or what the live graph publishes, each with
one message of the types whose field names the layout needs (tensors, scalars)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

from simrec_node.graph import Node, RawMessage

from .layout import SAMPLED_TYPES, TopicSample

_SCAN_LIMIT = 100_000  # messages read looking for samples before giving up on the rest


def topics_in_log(files: Sequence[str | Path]) -> list[TopicSample]:
    """Every channel of a log (a file, a split directory or several files), with the first
    message of each sampled type."""
    from simrec_node.play import LogSource

    source = LogSource(list(files))
    try:
        types = {c.topic: c.schema_name for c in source.channels.values()}
        wanted = {topic for topic, type_name in types.items() if type_name in SAMPLED_TYPES}
        samples: dict[str, bytes] = {}
        if wanted:
            for n, item in enumerate(source.messages(source.start_ns)):
                if item.channel.topic in wanted:
                    samples.setdefault(item.channel.topic, item.data)
                if len(samples) == len(wanted) or n >= _SCAN_LIMIT:
                    break
    finally:
        source.close()
    return [TopicSample(topic, type_name, samples.get(topic)) for topic, type_name in types.items()]


def topics_on_graph(domain: str | None, wait_s: float) -> list[TopicSample]:
    """What the graph publishes now, with a message of each sampled type that arrives within ``wait_s``."""
    deadline = time.monotonic() + wait_s
    with Node("simrec_layout", domain=domain) as node:
        types: dict[str, str] = {}
        while not types and time.monotonic() < deadline:  # a sim that is still starting
            types = {topic: names[0] for topic, names in node.topics(0.5).items() if names}
        wanted = {topic for topic, type_name in types.items() if type_name in SAMPLED_TYPES}
        samples: dict[str, bytes] = {}
        done = threading.Event()

        def take(message: RawMessage) -> None:
            samples.setdefault(message.topic, bytes(message.data))
            if len(samples) >= len(wanted):
                done.set()

        for topic in wanted:
            node.create_subscription(None, topic, take)
        if wanted:
            done.wait(max(deadline - time.monotonic(), 1.0))
        found = dict(samples)  # a callback may still be adding one
        return [TopicSample(topic, type_name, found.get(topic)) for topic, type_name in types.items()]
