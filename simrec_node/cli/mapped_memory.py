"""A long recording's warning about publishers' shared memory that its process cannot let go."""

from __future__ import annotations

from simrec_node.graph.shared_memory import mapped_segment_bytes

from .status import human_bytes

WARN_BYTES = 1 << 30
_EVERY_S = 10.0


class MappedMemoryCheck:
    """Says once when the shared memory mapped in this process passes ``limit``: each publisher
    process that sent shared memory leaves its pool (~17 MiB) behind until the recorder exits,
    so a recorder that outlives hundreds of short-lived publishers grows by gigabytes."""

    def __init__(self, limit: int = WARN_BYTES, every_s: float = _EVERY_S) -> None:
        self._limit = limit
        self._every_s = every_s
        self._next_s = 0.0
        self._warned = False

    def poll(self, elapsed_s: float) -> str | None:
        """The warning, the first time the limit is passed (checked every ``every_s``); else None."""
        if self._warned or elapsed_s < self._next_s:
            return None
        self._next_s = elapsed_s + self._every_s
        mapped = mapped_segment_bytes()
        if mapped < self._limit:
            return None
        self._warned = True
        return (
            f"{human_bytes(mapped)} of publishers' shared memory stays mapped in this recorder: Zenoh "
            "keeps each publisher process's pool until the recorder exits (eclipse-zenoh/zenoh#2787); "
            "restart the recorder between long series of short-lived publishers"
        )
