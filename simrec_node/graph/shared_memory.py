"""Big payloads published from a shared-memory pool of the process's own.

Zenoh's transport optimization also moves big payloads through shared memory, but it copies
each one into its pool while sending and, when that pool has no free chunk, sends the payload
over TCP instead. In a flood of 1 MiB messages, 25-58 % of the bytes crossed loopback TCP that
way, and the recorder's whole path ran at 300-600 MB/s. Copying into a pool of our own before
``put`` lets a reliable publisher wait a moment for a chunk to come free, as it waits for a
full transmit queue: no byte crossed TCP, and the same path ran at 800-1,100 MB/s.

A payload goes the network way after all (Zenoh copies it as before) when the pool is smaller
than it, when a reliable publisher waited ``RELIABLE_WAIT_S`` in vain, or, for best-effort
publishers, at once. Peers on other hosts get the bytes over the network either way.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import zenoh
import zenoh.shm

if TYPE_CHECKING:
    Payload = bytes | bytearray | memoryview

log = logging.getLogger("simrec.graph")

MIN_BYTES = 64 * 1024  # smaller payloads go Zenoh's own way (batched, no chunk each)
# Room for 16 frames of 1 MiB in flight; bigger payloads go the network way. Every receiver keeps
# a publisher process's pool mapped until the receiver exits (eclipse-zenoh/zenoh#2787), so a
# recorder pays this much for each publisher process it outlives. The 1 MiB flood ran no slower
# than with 64 MiB: medians of 6 alternated runs 658 MB/s (64 MiB), 808 (16), 872 (8).
POOL_BYTES = 16 * 1024 * 1024
RELIABLE_WAIT_S = 0.2
_FIRST_PAUSE_S = 50e-6
_LONGEST_PAUSE_S = 1e-3
# Collect chunks the subscribers let go of; defragment if that was not enough.
_POLICY = zenoh.shm.GarbageCollect(alt_policy=zenoh.shm.Defragment())


class SharedMemoryPool:
    """One process's pool for payloads of ``MIN_BYTES`` and more; thread-safe.

    The memory is mapped on the first big payload, not before. ``shared`` and ``fallbacks``
    count the payloads that went through it and those that went the network way because the
    pool stayed full.
    """

    def __init__(self, size: int = POOL_BYTES) -> None:
        self.size = size
        self.shared = 0
        self.fallbacks = 0
        self._provider: zenoh.shm.ShmProvider | None = None
        self._broken = False
        self._lock = threading.Lock()
        # Set after a wait in vain: later payloads do not wait until the pool has room again,
        # so a subscriber that holds on to its samples cannot slow every publish.
        self._congested = False

    def copy_in(self, data: Payload, wait_s: float) -> zenoh.shm.ZShmMut | None:
        """``data`` copied into the pool, waiting up to ``wait_s`` for room; None: send it as is."""
        provider = self._provider or self._open()
        if provider is None or len(data) > self.size:
            return None
        deadline = None
        pause = _FIRST_PAUSE_S
        while True:
            try:
                buffer = provider.alloc(len(data), policy=_POLICY)
            except zenoh.ZError:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + (0.0 if self._congested else wait_s)
                if now >= deadline:
                    self._congested = True
                    self.fallbacks += 1
                    return None
                time.sleep(pause)  # releases the GIL: a subscriber in this process may free chunks
                pause = min(pause * 2, _LONGEST_PAUSE_S)
                continue
            try:
                buffer[:] = data
            except TypeError:  # a memoryview of non-byte items: Zenoh takes it as is
                return None
            self._congested = False
            self.shared += 1
            return buffer

    def _open(self) -> zenoh.shm.ShmProvider | None:
        with self._lock:
            if self._provider is None and not self._broken:
                try:
                    self._provider = zenoh.shm.ShmProvider.default_backend(self.size)
                except zenoh.ZError as exc:  # e.g. a container's small /dev/shm
                    self._broken = True
                    log.warning("no shared memory for big payloads (%s): they go over the network", exc)
            return self._provider


def mapped_segment_bytes() -> int:
    """Bytes of Zenoh shared-memory segments mapped in this process: its own pools and those of
    every process that sent it shared memory, which stay mapped until this one exits
    (eclipse-zenoh/zenoh#2787). 0 where there is no /proc."""
    total = 0
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                if line.rstrip().endswith(".zenoh"):
                    start, end = line.split(" ", 1)[0].split("-")
                    total += int(end, 16) - int(start, 16)
    except OSError:
        return 0
    return total
