"""The playback clock: the one shared notion of "where are we in the log" and how fast it moves.

Log time advances at ``rate`` times the monotonic clock while playing and stands still while
paused. Every control (pause, resume, rate, seek, step) goes through here, from any thread: the
keyboard, the graph control queryable and the Foxglove listener all drive the same clock, and
the player waits on it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

MIN_RATE = 0.01
MAX_RATE = 100.0


@dataclass(frozen=True)
class ClockState:
    """A snapshot for status lines, control replies and Foxglove's PlaybackState."""

    time_ns: int
    rate: float
    paused: bool
    ended: bool


class PlaybackClock:
    def __init__(self, start_ns: int, *, rate: float = 1.0, paused: bool = False) -> None:
        self._cond = threading.Condition()
        self._anchor_log = start_ns
        self._anchor_mono = time.monotonic_ns()
        self._rate = _check_rate(rate)
        self._paused = paused
        self._ended = False
        self._stopped = False
        self._version = 0  # bumped by every change, so waiters re-plan
        # Time stands still until the player begins (or a control moves the clock): /clock
        # published while the player waits for subscribers must not run ahead and jump back.
        self._waiting = True
        self._pending_seek: int | None = None
        self._pending_steps = 0

    # ------------------------------------------------------------------ reading

    def now(self) -> int:
        with self._cond:
            return self._now()

    def state(self) -> ClockState:
        with self._cond:
            return ClockState(self._now(), self._rate, self._paused, self._ended)

    @property
    def stopped(self) -> bool:
        return self._stopped

    # ------------------------------------------------------------------ controls

    def pause(self) -> None:
        with self._cond:
            if not self._paused:
                self._anchor_log, self._anchor_mono = self._now(), time.monotonic_ns()
                self._paused = True
                self._changed()

    def resume(self) -> None:
        with self._cond:
            if self._paused:
                self._anchor_mono = time.monotonic_ns()
                self._paused = False
                self._changed()

    def toggle(self) -> None:
        (self.resume if self.state().paused else self.pause)()

    def set_rate(self, rate: float) -> None:
        rate = _check_rate(rate)
        with self._cond:
            self._anchor_log, self._anchor_mono = self._now(), time.monotonic_ns()
            self._rate = rate
            self._changed()

    def seek(self, time_ns: int) -> None:
        """Jump to ``time_ns``; the player picks the seek up (see `take_seek`)."""
        with self._cond:
            self._anchor_log, self._anchor_mono = time_ns, time.monotonic_ns()
            self._pending_seek = time_ns
            self._ended = False
            self._changed()

    def step(self) -> None:
        """Ask for the next message now (while paused, like ``ros2 bag play``'s play-next)."""
        with self._cond:
            self._pending_steps += 1
            self._changed()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._changed()

    # ------------------------------------------------------------------ for the player

    def begin(self, time_ns: int) -> None:
        """Anchor the start to now, unless a control (play, seek, ...) already moved the clock:
        a viewer may press play before the player thread gets going."""
        with self._cond:
            if self._version == 0:
                self._anchor_log, self._anchor_mono = time_ns, time.monotonic_ns()
            self._waiting = False

    def start_at(self, time_ns: int) -> None:
        """Anchor ``time_ns`` to now: playback (re)starts here without a pending seek."""
        with self._cond:
            self._anchor_log, self._anchor_mono = time_ns, time.monotonic_ns()
            self._changed()

    def finish(self, time_ns: int) -> None:
        """Playback reached its end at ``time_ns``: time stands still there until a seek."""
        with self._cond:
            self._anchor_log, self._anchor_mono = time_ns, time.monotonic_ns()
            self._paused = True
            self._ended = True
            self._changed()

    def take_seek(self) -> int | None:
        with self._cond:
            seek, self._pending_seek = self._pending_seek, None
            return seek

    def take_step(self) -> bool:
        with self._cond:
            if self._pending_steps:
                self._pending_steps -= 1
                return True
            return False

    def wait_until(self, time_ns: int) -> bool:
        """Block until log time reaches ``time_ns``; False if a control changed things first."""
        with self._cond:
            version = self._version
            while self._version == version and not self._stopped:
                if self._paused:
                    self._cond.wait(0.5)
                    continue
                remaining_s = (time_ns - self._now()) / self._rate / 1e9
                if remaining_s <= 0:
                    return True
                self._cond.wait(min(remaining_s, 0.5))
            return False

    def wait_for_change(self, timeout_s: float) -> None:
        with self._cond:
            version = self._version
            self._cond.wait_for(lambda: self._version != version or self._stopped, timeout_s)

    def _now(self) -> int:
        if self._paused or self._waiting:
            return self._anchor_log
        return self._anchor_log + int((time.monotonic_ns() - self._anchor_mono) * self._rate)

    def _changed(self) -> None:
        self._waiting = False
        self._version += 1
        self._cond.notify_all()


def _check_rate(rate: float) -> float:
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ValueError(f"rate must be between {MIN_RATE} and {MAX_RATE}, got {rate}")
    return float(rate)
