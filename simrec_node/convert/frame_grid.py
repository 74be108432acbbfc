"""The constant-rate grid a camera's frames are placed on for video, phase-locked to the camera.

A camera stamped by arrival (``log_time``) jitters around its nominal grid: a recorder's wake-ups,
a sim stepping at 100 Hz that publishes a 30 Hz camera on the nearest step (0, 40, 70, 100 ms).
Sampling "the newest frame at or before each output slot" on a grid that starts at the first
frame puts the output's slot boundaries right on the frames, so jitter sends two frames into one
slot and none into the next: a repeat and a drop, one pair per jittered frame.

Instead each output slot ``k`` is centred on ``anchor + k * period`` and a frame goes to the
nearest slot; the anchor is set from the circular mean of the first frames' phases (the grid's
phase that sits in the middle of the camera's jitter) and then follows the camera's phase
slowly (a first-order phase-locked loop), so a camera a little off ``fps`` does not drift onto
the boundaries. A camera at the video's rate (or a whole fraction of it) with jitter under half
a period comes out one video frame per image message; repeats and drops remain where frames are
really missing or doubled, or where the camera's rate is not the video's.
"""

from __future__ import annotations

import math

LOCK_FRAMES = 16  # frames of the first topic whose phases set the grid
LOCK_BYTES = 64 * 1024 * 1024  # ... or fewer, once this much image data waits
MIN_COHERENCE = 0.5  # phases less concentrated than this (a camera faster than fps): no lock
FOLLOW_GAIN = 0.1  # share of each frame's phase error the grid follows


class FrameGrid:
    """Output slots of ``period`` ns; `lock` sets their phase, `place` maps a time to a slot."""

    def __init__(self, period_ns: float) -> None:
        self.period = period_ns
        self.origin = 0  # the first frame's time: positions are relative to it, in exact integers
        self.anchor: float = 0.0  # slot 0's centre, ns after ``origin``
        self.locked = False
        self._follow = False

    def lock(self, times: list[int]) -> None:
        """Phase the grid on ``times`` (the first frames): slot 0 is the first frame's slot."""
        first = times[0]
        sin = cos = 0.0
        for t in times:
            angle = 2 * math.pi * ((t - first) / self.period)
            sin, cos = sin + math.sin(angle), cos + math.cos(angle)
        coherence = math.hypot(sin, cos) / len(times)
        # Phases that agree: centre the slots on their mean. Phases all over the slot (a camera
        # faster than the video, or no steady rate): slots centred on the first frame.
        self._follow = len(times) > 1 and coherence >= MIN_COHERENCE
        # In (-0.5, 0.5]; rounded so that float noise in the sums does not break exact ties.
        offset = round(math.atan2(sin, cos) / (2 * math.pi), 9) if self._follow else 0.0
        self.origin = first
        self.anchor = offset * self.period
        if self._position(first) >= 0.5:  # an offset of exactly half a period
            self.anchor += self.period
        self.locked = True

    def place(self, time_ns: int, *, follow: bool = True) -> int:
        """The slot ``time_ns`` belongs to; ``follow``: let the grid follow this frame's phase."""
        position = self._position(time_ns)
        slot = math.floor(position + 0.5)
        if follow and self._follow:
            error = position - slot  # in [-0.5, 0.5)
            self.anchor += FOLLOW_GAIN * error * self.period
        return slot

    def time_of(self, slot: int) -> float:
        """The log time (ns) output slot ``slot`` shows."""
        return self.origin + self.anchor + slot * self.period

    def _position(self, time_ns: int) -> float:
        """Where ``time_ns`` falls, in periods from slot 0's centre."""
        return ((time_ns - self.origin) - self.anchor) / self.period
