"""A reader thread that keeps the next messages ready, bounded in count and bytes.

Playback must not stall on decompressing a chunk, and must not hold the whole file either: the
thread reads ahead until ``max_items`` or ``max_bytes`` are buffered. ``restart`` (a seek, a
loop) drops the buffer and starts a fresh reader at the new time.
"""

from __future__ import annotations

import threading
from collections import deque

from .source import Item, LogSource

END = object()  # returned by next() when the range has been read to its end


class ReadAhead:
    def __init__(
        self, source: LogSource, *, max_items: int = 4096, max_bytes: int = 64 * 1024 * 1024
    ) -> None:
        self._source = source
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._cond = threading.Condition()
        self._buffer: deque[Item | object] = deque()
        self._bytes = 0
        self._generation = 0
        self._closed = False

    def restart(self, start_ns: int, end_ns: int | None) -> None:
        """Read from ``start_ns`` (inclusive) to ``end_ns`` (inclusive); drop what was buffered."""
        with self._cond:
            self._generation += 1
            self._buffer.clear()
            self._bytes = 0
            generation = self._generation
            self._cond.notify_all()
        threading.Thread(
            target=self._read, args=(generation, start_ns, end_ns), name="simrec-play-read", daemon=True
        ).start()

    def next(self, timeout_s: float) -> Item | object | None:
        """The next message, `END`, or None when nothing arrived within ``timeout_s``."""
        with self._cond:
            if not self._buffer:
                self._cond.wait(timeout_s)
                if not self._buffer:
                    return None
            item = self._buffer.popleft()
            if isinstance(item, Item):
                self._bytes -= len(item.data)
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._generation += 1
            self._buffer.clear()
            self._cond.notify_all()

    def _read(self, generation: int, start_ns: int, end_ns: int | None) -> None:
        messages = self._source.messages(start_ns, end_ns)
        try:
            for item in messages:
                with self._cond:
                    while self._generation == generation and (
                        len(self._buffer) >= self._max_items or self._bytes >= self._max_bytes
                    ):
                        self._cond.wait()
                    if self._generation != generation:
                        return
                    self._buffer.append(item)
                    self._bytes += len(item.data)
                    self._cond.notify_all()
            with self._cond:
                if self._generation == generation:
                    self._buffer.append(END)
                    self._cond.notify_all()
        finally:
            messages.close()
