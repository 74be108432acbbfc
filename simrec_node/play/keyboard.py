"""Keys in the terminal while playing: space pauses/resumes, right arrow plays the next message,
up/down arrows change the rate by 10%. Only when stdin is a terminal; the terminal is restored."""

from __future__ import annotations

from simrec_node.terminal_keys import KeyReader

from .clock import MAX_RATE, MIN_RATE, PlaybackClock

HELP = "keys: space pause/resume, → next message, ↑/↓ rate ±10%"


class KeyboardControl(KeyReader):
    """Turns key presses into playback clock controls."""

    def __init__(self, clock: PlaybackClock) -> None:
        super().__init__(self._handle, name="simrec-play-keys")
        self._clock = clock

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
