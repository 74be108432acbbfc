"""An image topic read back as pixels: ``[T, H, W(, C)]`` frames with their times.

JPEG/PNG decoding is most of the work, and Pillow releases the GIL while it decodes, so frames
are decoded on a thread pool (a few frames ahead of the reader, in order) and copied into one
preallocated column (``TopicTable``: frames of another size make the column ragged, said in its
note, never a silent resize). Frames are full pixels, as stored (no draft/reduced decode).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from simrec_node.logs import Batch
from simrec_node.msgs import decode_image

if TYPE_CHECKING:
    from .collect import TopicTable

_WORKERS = max(1, min(8, os.cpu_count() or 1))
_AHEAD = 2 * _WORKERS  # frames decoding at once (each holds its compressed bytes and pixels)

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _decoders() -> ThreadPoolExecutor:
    """The image decoding threads, started once per process."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="simrec-image-decode")
        return _pool


def _decode(type_name: str, data: bytes) -> np.ndarray | None:
    try:
        return decode_image(type_name, data)
    except Exception:  # a malformed frame is the file's problem, not a crash
        return None


class FrameRows:
    """An image topic's frames, decoded on the pool in arrival order and added to ``table`` as
    they finish (at most ``_AHEAD`` in flight). Frames that do not decode are counted."""

    def __init__(self, table: TopicTable) -> None:
        self.table = table
        self.failed = 0
        self._pool = _decoders()
        self._pending: deque[tuple[int, int, Future]] = deque()

    def add(self, batch: Batch, which: np.ndarray) -> None:
        type_name = self.table.type_name
        for i in which.tolist():
            data = bytes(batch.payload(i))  # owned: the chunk's buffer goes with the batch
            future = self._pool.submit(_decode, type_name, data)
            self._pending.append((int(batch.log_time[i]), int(batch.publish_time[i]), future))
            while len(self._pending) > _AHEAD:
                self._take()

    def _take(self) -> None:
        log_time, publish_time, future = self._pending.popleft()
        pixels = future.result()
        if pixels is None:
            self.failed += 1
        else:
            self.table.add(log_time, publish_time, pixels)

    def finish(self) -> int:
        """Wait for the frames still decoding; the number that did not decode."""
        while self._pending:
            self._take()
        return self.failed
