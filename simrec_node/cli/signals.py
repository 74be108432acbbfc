"""Ctrl-C and SIGTERM as a request to finish cleanly; a second one as a request to quit now."""

from __future__ import annotations

import os
import signal
import sys
import time

_POLL_S = 0.02


class StopRequest:
    """Set by the first SIGINT/SIGTERM (or by ``set()`` from any thread); waited on by polling.

    Not a ``threading.Event``: a signal handler runs on the main thread between bytecodes,
    and ``Event.set()`` takes a lock the interrupted main thread may be holding inside
    ``Event.wait()``, which hangs the program. Setting a flag takes no lock.
    """

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float | None = None) -> bool:
        """True once set; False when ``timeout`` seconds passed first (within ~20 ms)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._set:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            time.sleep(_POLL_S if left is None else min(_POLL_S, left))
        return True


def install_stop_handlers() -> StopRequest:
    """Return a request set by the first SIGINT/SIGTERM; the second exits at once (code 130)."""
    stop = StopRequest()

    def handle(signum: int, _frame: object) -> None:
        if stop.is_set():
            sys.stderr.write("\nsimrec: interrupted again: exiting without finishing\n")
            os._exit(130)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return stop
