"""Key presses from the terminal, for the commands that take keys while they run (play, record).

Only when stdin is a terminal: it is put in cbreak mode (keys arrive one by one, unechoed
line editing off, Ctrl-C still a signal) and restored on ``stop()``.
"""

from __future__ import annotations

import os
import select
import sys
import threading
from collections.abc import Callable


class KeyReader:
    """Reads stdin on a thread of its own and hands the bytes to ``handle``.

    ``handle(keys)`` acts on the complete key sequences in ``keys`` and returns an incomplete
    one (the start of an escape sequence) to be completed by the next read; what is still
    incomplete after 0.1 s without input is discarded.
    """

    def __init__(self, handle: Callable[[bytes], bytes], name: str = "simrec-keys") -> None:
        self._on_keys = handle
        self._name = name
        self._stop = threading.Event()
        self._fd = sys.stdin.fileno()
        self._saved = None
        self._thread: threading.Thread | None = None

    @staticmethod
    def available() -> bool:
        try:
            import termios  # noqa: F401 - POSIX only
        except ImportError:
            return False
        return sys.stdin.isatty()

    def start(self) -> None:
        import termios
        import tty

        self._saved = termios.tcgetattr(self._fd)
        tty.setcbreak(self._fd)
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        import termios

        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        if self._saved is not None:
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def _run(self) -> None:
        pending = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.1)
            if not ready:
                pending = b""
                continue
            data = os.read(self._fd, 16)
            if not data:  # the terminal went away
                return
            pending = self._on_keys(pending + data)
