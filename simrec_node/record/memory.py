"""Giving memory back to the OS after a backlog, so a long recording's RSS stays flat.

When the disk falls behind, the queue holds up to ``--max-cache-size`` of payloads, allocated on
the receiving threads and freed on the writer's. glibc keeps such freed memory in its arenas,
so RSS stays at the high-water mark long after the backlog is gone; ``malloc_trim`` hands it
back. On other C libraries this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    """Return the allocator's free pages to the OS (glibc), a few milliseconds' work."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
