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


def _decode(type_name: str, data: bytes, out: np.ndarray | None) -> np.ndarray | None:
    try:
        return decode_image(type_name, data, out)
    except Exception:  # a malformed frame is the file's problem, not a crash
        return None


class FrameRows:
    """An image topic's frames, decoded on the pool in arrival order and added to ``table`` as
    they finish (at most ``_AHEAD`` in flight). Frames that do not decode are counted.

    Once the table has its ``data`` column (the first frame taken), each frame is decoded
    straight into a row of the column's buffer (``Column.slot``): a frame's pixels are written
    once, by the thread that decodes them, with no array of their own to fault in and copy. Its
    row is past every row the frames ahead of it can take; one that fails leaves a gap, closed
    by moving the next frames down as they are taken (``Column.place``). A frame of another
    shape comes back as its own array and makes the column ragged, as ``TopicTable.add`` says."""

    def __init__(self, table: TopicTable) -> None:
        self.table = table
        self.failed = 0
        self._pool = _decoders()
        # (log_time, publish_time, decoding, its buffer row or None, that row's index)
        self._pending: deque[tuple[int, int, Future, np.ndarray | None, int]] = deque()
        self._next = 0  # the buffer row the next frame may take

    def add(self, batch: Batch, which: np.ndarray) -> None:
        type_name = self.table.type_name
        for i in which.tolist():
            data = bytes(batch.payload(i))  # owned: the chunk's buffer goes with the batch
            slot, at = self._slot()
            future = self._pool.submit(_decode, type_name, data, slot)
            self._pending.append((int(batch.log_time[i]), int(batch.publish_time[i]), future, slot, at))
            while len(self._pending) > _AHEAD:
                self._take()

    def _slot(self) -> tuple[np.ndarray | None, int]:
        """The buffer row the next frame is decoded into (None: into an array of its own)."""
        column = self.table.columns.get("data")
        if column is None:
            return None, -1
        at = max(self._next, column.count + len(self._pending))
        slot = column.slot(at)
        if slot is None and column.mode == "array":  # the buffer is full: grow it, none in flight
            self.finish()
            at = column.count
            slot = column.slot(at, grow=True)
        self._next = at + 1
        return slot, at

    def _take(self) -> None:
        log_time, publish_time, future, slot, at = self._pending.popleft()
        pixels = future.result()
        if pixels is None:
            self.failed += 1
        elif pixels is slot and self.table.columns["data"].mode == "array":
            self.table.place(log_time, publish_time, "data", at)
        else:
            self.table.add(log_time, publish_time, pixels)

    def finish(self) -> int:
        """Wait for the frames still decoding; the number that did not decode."""
        while self._pending:
            self._take()
        return self.failed
