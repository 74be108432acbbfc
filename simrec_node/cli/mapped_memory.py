"""What long-running receivers (record, serve) say about shared memory: why it is off, and
publishers' pools they cannot let go."""

from __future__ import annotations

import sys

from simrec_node.graph import why_no_shared_memory
from simrec_node.graph.shared_memory import mapped_segment_bytes

from .status import human_bytes, print_over_status

WARN_BYTES = 1 << 30
_EVERY_S = 10.0


def note_no_shared_memory() -> None:
    """At start, where the defaults leave shared memory off: big payloads will be slower, say why."""
    why = why_no_shared_memory()
    if why:
        print(f"simrec: note: {why}", file=sys.stderr, flush=True)


class MappedMemoryCheck:
    """Says once when the shared memory mapped in this process passes ``limit``: each publisher
    process that sent shared memory leaves its pool (~17 MiB) behind until the receiver exits,
    so a recorder or bridge that outlives hundreds of short-lived publishers grows by gigabytes."""

    def __init__(self, limit: int = WARN_BYTES, every_s: float = _EVERY_S) -> None:
        self._limit = limit
        self._every_s = every_s
        self._next_s = 0.0
        self._warned = False

    def poll(self, elapsed_s: float) -> str | None:
        """Print the warning the first time the limit is passed (checked every ``every_s``) and
        return it; None otherwise."""
        if self._warned or elapsed_s < self._next_s:
            return None
        self._next_s = elapsed_s + self._every_s
        mapped = mapped_segment_bytes()
        if mapped < self._limit:
            return None
        self._warned = True
        warning = (
            f"{human_bytes(mapped)} of publishers' shared memory stays mapped in this process: Zenoh "
            "keeps each publisher process's pool until the receiver exits (eclipse-zenoh/zenoh#2787); "
            "restart it between long series of short-lived publishers"
        )
        print_over_status(f"simrec: warning: {warning}")
        return warning
