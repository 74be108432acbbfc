"""Keys in the terminal while playing: space pauses/resumes, right arrow plays the next message,
up/down arrows change the rate by 10%. Only when stdin is a terminal; the terminal is restored."""

from __future__ import annotations

import os
import select
import sys
import threading

from .clock import MAX_RATE, MIN_RATE, PlaybackClock

HELP = "keys: space pause/resume, → next message, ↑/↓ rate ±10%"


class KeyboardControl:
    def __init__(self, clock: PlaybackClock) -> None:
        self._clock = clock
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
        self._thread = threading.Thread(target=self._run, name="simrec-play-keys", daemon=True)
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
            pending += os.read(self._fd, 16)
            pending = self._handle(pending)

    def _handle(self, keys: bytes) -> bytes:
        """Act on complete key sequences; return an incomplete escape sequence to keep."""
        while keys:
            if keys.startswith(b" "):
                self._clock.toggle()
                keys = keys[1:]
            elif keys.startswith(b"\x1b"):
                if len(keys) < 3:
                    return keys
                code, keys = keys[:3], keys[3:]
                if code == b"\x1b[C":
                    self._clock.step()
                elif code in (b"\x1b[A", b"\x1b[B"):
                    factor = 1.1 if code == b"\x1b[A" else 1 / 1.1
                    rate = self._clock.state().rate * factor
                    self._clock.set_rate(min(max(rate, MIN_RATE), MAX_RATE))
            else:
                keys = keys[1:]
        return b""
