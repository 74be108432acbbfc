"""How many bytes per second the live view may send: big messages beyond it skip the viewers.

A viewer draws at display rate; handing it every 1 MiB frame of a 400 MB/s stream costs the
machine a copy per client and the client's CPU for frames no one sees. Small messages do not
count against it (the bridge's rate per topic limits those), and the recording is never
touched: only what goes to viewers.
"""

from __future__ import annotations

import time

SMALL_BYTES = 64 * 1024  # messages below this count against nothing here
_BURST_S = 0.1  # how much unused budget may pile up: a tenth of a second's worth


class ByteBudget:
    """A token bucket over bytes. Not locked: callers on several threads may overdraw it by
    a message, which only makes the limit approximate."""

    __slots__ = ("_last", "_rate", "_tokens")

    def __init__(self, bytes_per_s: float) -> None:
        if bytes_per_s <= 0:
            raise ValueError(f"a live view budget must be > 0 bytes/s, got {bytes_per_s}")
        self._rate = float(bytes_per_s)
        self._tokens = self._rate * _BURST_S
        self._last = time.monotonic()

    def take(self, size: int) -> bool:
        """True when a message of ``size`` bytes fits now (and is then counted against it).
        Messages under ``SMALL_BYTES`` always fit (callers on a hot path check that first)."""
        if size < SMALL_BYTES:
            return True
        now = time.monotonic()
        # The bucket holds at least one whole message, or big ones could never pass.
        ceiling = max(self._rate * _BURST_S, size)
        tokens = min(ceiling, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if tokens >= size:
            self._tokens = tokens - size
            return True
        self._tokens = tokens
        return False
