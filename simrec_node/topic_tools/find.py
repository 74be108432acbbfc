"""Waiting for a topic to appear, and saying which ones exist when it does not."""

from __future__ import annotations

import time

from simrec_node.errors import SimrecError
from simrec_node.graph import Node


class TopicNotFoundError(SimrecError, LookupError):
    """No publisher on the asked-for topic; the message lists the topics that do exist."""


def wait_for_topic(node: Node, topic: str, timeout_s: float) -> list[str]:
    """The type names published on ``topic``, waiting up to ``timeout_s`` for a publisher."""
    resolved = node.resolve_topic(topic)
    deadline = time.monotonic() + timeout_s
    while True:
        topics = node.topics(timeout_s=0.5)
        if resolved in topics:
            return topics[resolved]
        if time.monotonic() >= deadline:
            existing = ", ".join(topics) if topics else "none"
            raise TopicNotFoundError(
                f"no publisher on {resolved} in domain {node.domain!r} (topics now: {existing}); "
                "check the name with `simrec topic list`"
            )
        time.sleep(0.2)
