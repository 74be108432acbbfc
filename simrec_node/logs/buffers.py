"""Memory for what a read produces: big arrays in ordinary pages, and chunk buffers reused.

A bulk read decompresses chunk after chunk, each into a fresh buffer as large as the chunk. On a
VM every fresh MiB is 256 page faults, and a freed buffer goes back to the kernel (malloc trims
or unmaps it), so the next chunk faults again: a third of the page faults of reading a camera
log back into numpy. ``Buffers`` hands a buffer out again once nothing refers to it any more.
"""

from __future__ import annotations

import mmap
import sys
import threading

import numpy as np

_MAPPED_BYTES = 4 << 20  # buffers from this size on are mapped on their own (``empty_bytes``)


def empty_bytes(nbytes: int) -> np.ndarray:
    """An uninitialised uint8 array whose pages come as it is written.

    A large one is an anonymous private map of its own, in ordinary pages, rather than numpy's
    allocation: numpy asks the kernel for transparent huge pages on arrays of 4 MiB and more, and
    where huge pages are slow to fault in (a Firecracker VM here: 0.04-0.9 s to first write
    320 MB, against a steady 0.18-0.25 s in 4 KiB pages) the same read back swung 2x from run
    to run. Freed with the array, as numpy's would be."""
    if nbytes < _MAPPED_BYTES:
        return np.empty(nbytes, dtype=np.uint8)
    return np.frombuffer(mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS), dtype=np.uint8)


def _references(buffers: list[np.ndarray], i: int) -> int:
    """CPython's reference count of ``buffers[i]``: the one expression ``Buffers`` judges by."""
    return sys.getrefcount(buffers[i])


def _free_count() -> int | None:
    """What ``_references`` says of a buffer that only its list refers to, checked on this
    interpreter to go up by one with a view of it and back down without; None where it does not
    (an interpreter that counts differently): then no buffer is handed out twice."""
    probe = [np.empty(8, dtype=np.uint8)]
    free = _references(probe, 0)
    view = probe[0][2:]
    held = _references(probe, 0)
    del view
    return free if held == free + 1 and _references(probe, 0) == free else None


_FREE = _free_count()


class Buffers:
    """Up to ``most`` chunk buffers of up to ``most_bytes`` each, handed out again once free.

    Free means that nothing but this pool refers to the buffer: every view of it (a memoryview,
    a slice, a numpy array made from either) holds a reference to it, so CPython's reference
    count says when the last one is gone, and a reader that keeps a message's payload past its
    chunk keeps that buffer out of use (it is never written under a live view). Thread-safe."""

    def __init__(self, most: int = 8, most_bytes: int = 16 << 20) -> None:
        self._lock = threading.Lock()
        self._buffers: list[np.ndarray] = []
        self._most = most
        self._most_bytes = most_bytes

    def take(self, size: int) -> np.ndarray | None:
        """A buffer of at least ``size`` bytes that nothing else refers to (contents undefined);
        None past ``most_bytes`` (a size read from a file may be damage: the caller reads such a
        chunk as it would without a pool), and None where reference counts cannot tell."""
        if size > self._most_bytes or _FREE is None:
            return None
        with self._lock:
            buffers = self._buffers
            free = [i for i in range(len(buffers)) if _references(buffers, i) == _FREE]
            for i in free:
                if len(buffers[i]) >= size:
                    return buffers[i]
            fresh = empty_bytes(size)
            if free:  # none large enough: this one replaces a free one
                buffers[free[0]] = fresh
            elif len(buffers) < self._most:
                buffers.append(fresh)
            return fresh

    def clear(self) -> None:
        """Let go of every buffer (those still referred to live on with their views)."""
        with self._lock:
            self._buffers = []
