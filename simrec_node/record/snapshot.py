"""Snapshot mode's ring buffer: the last N bytes or S seconds of messages, kept in memory.

"Record the last 30 s when something interesting happens": nothing reaches the disk until a
snapshot is asked for; then the whole ring goes to a new file and the ring starts again empty.
What falls off the old end of the ring was never meant to be kept, so it is not a drop.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .write_loop import Item

_DATA, _LOG_TIME = 3, 5


class SnapshotRing:
    """Messages in arrival order, trimmed from the oldest end to ``max_bytes`` and ``max_duration_s``."""

    def __init__(self, max_bytes: int, max_duration_s: float | None = None) -> None:
        self.max_bytes = max_bytes
        self._max_duration_ns = int(max_duration_s * 1e9) if max_duration_s else None
        self._items: deque[Item] = deque()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: Item) -> None:
        """Keep one queue item (its payload made); drop the oldest past the limits."""
        items = self._items
        items.append(item)
        self.bytes += len(item[_DATA])
        while self.bytes > self.max_bytes and len(items) > 1:
            self.bytes -= len(items.popleft()[_DATA])
        if self._max_duration_ns is not None:
            oldest_kept = item[_LOG_TIME] - self._max_duration_ns
            while items[0][_LOG_TIME] < oldest_kept:
                self.bytes -= len(items.popleft()[_DATA])

    def take(self) -> list[Item]:
        """Everything in the ring, oldest first; the ring is empty afterwards."""
        items = list(self._items)
        self._items.clear()
        self.bytes = 0
        return items

    def duration_s(self) -> float:
        if len(self._items) < 2:
            return 0.0
        return (self._items[-1][_LOG_TIME] - self._items[0][_LOG_TIME]) / 1e9
