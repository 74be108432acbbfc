"""Ctrl-C and SIGTERM as a request to finish cleanly; a second one as a request to quit now."""

from __future__ import annotations

import os
import signal
import sys
import threading


def install_stop_handlers() -> threading.Event:
    """Return an event set by the first SIGINT/SIGTERM; the second exits at once (code 130)."""
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        if stop.is_set():
            sys.stderr.write("\nsimrec: interrupted again: exiting without finishing\n")
            os._exit(130)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return stop
