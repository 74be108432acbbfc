"""What long commands show while they work: a live status line (record, serve, demo) and progress
bars with rate and time left (convert, recover, doctor, play), both drawn by tqdm on a terminal.

tqdm rather than rich: it is one small pure-Python package with no dependencies (rich brings
pygments and markdown-it) that imports in tens of milliseconds, only when a command runs, and
its bar (``45%|████▌     | 12.0M/26.7M [00:02<00:02, 5.1MB/s]``) is the one ML people already
read in every training loop. On a pipe (a log file, CI) nothing is redrawn: a plain line every
few seconds instead. ``--quiet`` silences both.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from tqdm import tqdm


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    return f"{count:.1f} GiB"


def bytes_done(what: str) -> Callable[[float, float], str]:
    """The plain line of a `ProgressBar` over bytes: ``what: 12.0 MiB of 26.7 MiB (45%)``."""

    def line(done: float, total: float) -> str:
        return f"{what}: {human_bytes(done)} of {human_bytes(total)} ({100 * done / max(total, 1):.0f}%)"

    return line


def on_terminal() -> bool:
    """Whether stderr is a terminal, where lines can be redrawn in place."""
    return sys.stderr.isatty()


def _width() -> dict:
    """tqdm's width: the terminal's, followed as it changes; 80 where the terminal has no size
    (tqdm would draw nothing in 0 columns)."""
    try:
        columns = os.get_terminal_size(sys.stderr.fileno()).columns
    except OSError:
        columns = 0
    return {"dynamic_ncols": True} if columns > 0 else {"ncols": 80, "nrows": 24}


def print_over_status(text: str) -> None:
    """Print ``text`` on stderr as a line of its own, above the status line or bar where one is shown."""
    tqdm.write(text, file=sys.stderr)
    sys.stderr.flush()


class _Sparse:
    """On a pipe: at most one plain line every ``every_s`` seconds (the first after ``every_s``)."""

    def __init__(self, every_s: float) -> None:
        self._every_s = every_s
        self._last = time.monotonic()

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last < self._every_s:
            return False
        self._last = now
        return True


class StatusLine:
    """One line rewritten in place on a terminal; on a pipe, a plain line every ``log_every_s``."""

    def __init__(self, *, quiet: bool = False, log_every_s: float = 10.0) -> None:
        self._quiet = quiet
        self._sparse = _Sparse(log_every_s)
        self._bar: tqdm | None = None
        if not quiet and on_terminal():
            self._bar = tqdm(file=sys.stderr, bar_format="{desc}", leave=True, **_width())

    def update(self, text: str) -> None:
        if self._quiet:
            return
        if self._bar is not None:
            self._bar.set_description_str(text)  # redraws (trimmed to the terminal's width)
        elif self._sparse.due():
            print(text, file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class ProgressBar:
    """A bar with rate and time left for work of known size: bytes of a file, seconds of a log.

    ``plain(done, total)`` words the line a pipe gets every ``log_every_s``; ``min_total`` keeps
    small work quiet (no bar, no line) where only big files deserve one.
    """

    def __init__(
        self,
        what: str,
        total: float,
        *,
        plain: Callable[[float, float], str],
        unit: str = "B",
        quiet: bool = False,
        log_every_s: float = 5.0,
        min_total: float = 0,
    ) -> None:
        self._plain = plain
        self._total = total
        self._quiet = quiet or total < min_total
        self._sparse = _Sparse(log_every_s)
        self._postfix = ""
        self._bar: tqdm | None = None
        if not self._quiet and on_terminal():
            scaled = unit == "B"
            self._bar = tqdm(
                total=total,
                desc=what,
                unit=unit,
                unit_scale=scaled,
                unit_divisor=1024 if scaled else 1000,
                file=sys.stderr,
                leave=False,  # the command's own summary follows
                bar_format=None if scaled else _SECONDS_FORMAT,
                **_width(),
            )

    def update(self, done: float, postfix: str = "") -> None:
        """Move to ``done`` of the total (absolute, not an increment)."""
        if self._quiet:
            return
        done = min(done, self._total)
        if self._bar is not None:
            if postfix != self._postfix:
                self._postfix = postfix
                self._bar.set_postfix_str(postfix, refresh=False)
            self._bar.update(done - self._bar.n)  # redraws at most every 0.1 s
        elif self._sparse.due():
            line = self._plain(done, self._total)
            print(f"{line}  {postfix}" if postfix else line, file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


_SECONDS_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s [{elapsed}<{remaining}{postfix}]"
