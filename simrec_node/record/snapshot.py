"""Snapshot mode's ring buffer: the last N bytes or S seconds of messages, kept in memory.

"Record the last 30 s when something interesting happens": nothing reaches the disk until a
snapshot is asked for; then the whole ring goes to a new file and the ring starts again empty.
What falls off the old end of the ring was never meant to be kept, so it is not a drop.
"""

from __future__ import annotations

from collections import deque

from simrec_node.graph import RawMessage

from .stats import TopicStats


class SnapshotRing:
    """Messages in arrival order, trimmed from the oldest end to ``max_bytes`` and ``max_duration_s``."""

    def __init__(self, max_bytes: int, max_duration_s: float | None = None) -> None:
        self.max_bytes = max_bytes
        self._max_duration_ns = int(max_duration_s * 1e9) if max_duration_s else None
        self._items: deque[tuple[TopicStats, RawMessage]] = deque()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, stats: TopicStats, message: RawMessage) -> None:
        items = self._items
        items.append((stats, message))
        self.bytes += len(message.data)
        while self.bytes > self.max_bytes and len(items) > 1:
            self.bytes -= len(items.popleft()[1].data)
        if self._max_duration_ns is not None:
            oldest_kept = message.receive_time_ns - self._max_duration_ns
            while items[0][1].receive_time_ns < oldest_kept:
                self.bytes -= len(items.popleft()[1].data)

    def take(self) -> list[tuple[TopicStats, RawMessage]]:
        """Everything in the ring, oldest first; the ring is empty afterwards."""
        items = list(self._items)
        self._items.clear()
        self.bytes = 0
        return items

    def duration_s(self) -> float:
        if len(self._items) < 2:
            return 0.0
        return (self._items[-1][1].receive_time_ns - self._items[0][1].receive_time_ns) / 1e9
