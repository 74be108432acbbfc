"""Timers that call back at a fixed rate on a thread of their own, without drift."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("simrec.graph")


class Timer:
    """Calls ``callback()`` every ``period_s`` seconds until cancelled.

    Deadlines are kept on a fixed grid; when a callback overruns, the missed ticks are
    skipped (counted in ``overruns``) rather than fired in a burst.
    """

    def __init__(self, period_s: float, callback: Callable[[], None]) -> None:
        if period_s <= 0:
            raise ValueError(f"timer period must be positive, got {period_s}")
        self.period_s = period_s
        self.overruns = 0
        self._callback = callback
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"timer {period_s}s", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + self.period_s
        while not self._cancelled.wait(max(0.0, deadline - time.monotonic())):
            try:
                self._callback()
            except Exception:
                log.exception("timer callback raised")
            deadline += self.period_s
            now = time.monotonic()
            if now > deadline:
                skipped = int((now - deadline) / self.period_s) + 1
                self.overruns += skipped
                deadline += skipped * self.period_s

    def cancel(self) -> None:
        self._cancelled.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
