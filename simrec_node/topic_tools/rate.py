"""``ros2 topic hz``: arrival rate over a sliding window of the latest messages."""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class RateReport:
    rate_hz: float
    min_s: float
    max_s: float
    std_dev_s: float
    window: int


class RateMeter:
    """Counts arrivals (thread-safe ``tick``) and reports over the last ``window`` intervals."""

    def __init__(self, window: int = 10000) -> None:
        self._stamps: deque[float] = deque(maxlen=window + 1)
        self._lock = threading.Lock()

    def tick(self, now: float | None = None) -> None:
        stamp = time.monotonic() if now is None else now
        with self._lock:
            self._stamps.append(stamp)

    def report(self) -> RateReport | None:
        """None until two messages have arrived."""
        with self._lock:
            stamps = list(self._stamps)
        if len(stamps) < 2:
            return None
        intervals = [b - a for a, b in itertools.pairwise(stamps)]
        mean = (stamps[-1] - stamps[0]) / len(intervals)
        return RateReport(
            rate_hz=1.0 / mean if mean > 0 else float("inf"),
            min_s=min(intervals),
            max_s=max(intervals),
            std_dev_s=statistics.pstdev(intervals),
            window=len(intervals),
        )
