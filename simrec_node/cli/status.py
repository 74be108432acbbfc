"""A live one-line status on a terminal; sparse progress lines when output is a log."""

from __future__ import annotations

import sys
import time


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    return f"{count:.1f} GiB"


def print_over_status(text: str) -> None:
    """Print ``text`` on stderr as a line of its own, over the status line where one is shown."""
    erase = "\r\x1b[K" if sys.stderr.isatty() else ""
    print(erase + text, file=sys.stderr, flush=True)


class StatusLine:
    """Rewrites one line on a TTY (every update); on a pipe, prints a line every ``log_every_s``."""

    def __init__(self, *, quiet: bool = False, log_every_s: float = 10.0) -> None:
        self._tty = sys.stderr.isatty()
        self._quiet = quiet
        self._log_every_s = log_every_s
        self._last_log = time.monotonic()
        self._width = 0

    def update(self, text: str) -> None:
        if self._quiet:
            return
        if self._tty:
            padding = " " * max(0, self._width - len(text))
            sys.stderr.write("\r" + text + padding)
            sys.stderr.flush()
            self._width = len(text)
        elif time.monotonic() - self._last_log >= self._log_every_s:
            self._last_log = time.monotonic()
            print(text, file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self._tty and self._width and not self._quiet:
            sys.stderr.write("\n")
            sys.stderr.flush()
