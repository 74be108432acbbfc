"""Run an iterator on a background thread, a few items ahead of its consumer.

Why: checking a chunk (zstd/lz4 decompression, CRC) releases the GIL, so ``recover`` verifies
the next chunks on a second core while it writes this one. The queue holds ``depth`` items at
most, so memory stays bounded; the thread stops when the consumer stops early, and an exception
in it is raised in the consumer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()


def ahead(items: Iterable[T], depth: int = 4, name: str = "simrec-ahead") -> Iterator[T]:
    """Yield ``items`` in order, produced on a daemon thread up to ``depth`` ahead."""
    out: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                out.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put((_END, exc))
            return
        put((_END, None))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item, exc = out.get()
            if item is _END:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        thread.join()
