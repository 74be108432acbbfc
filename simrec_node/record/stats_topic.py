"""``/simrec/stats``: the recorder's counters on the graph, once per period, for Foxglove and tools.

Published from the recorder's own node, so ``simrec topic echo /simrec/stats`` or a Foxglove
Plot of ``/simrec/stats.topics[:]{topic=="/sim/state"}.queue_dropped`` shows a running
recording's health while it runs (and ``simrec record -a`` keeps it in the file).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from simrec_node.msgs import RecorderStats

if TYPE_CHECKING:
    from .recorder_node import RecorderNode

STATS_TOPIC = "/simrec/stats"
_COUNTERS = (
    "received",
    "written",
    "bytes_written",
    "gap_dropped",
    "queue_dropped",
    "disk_dropped",
    "paused_skipped",
)


def stats_message(recorder: RecorderNode) -> RecorderStats:
    """One `RecorderStats` from the recorder's status and per-topic counters, read now."""
    status = recorder.status()
    message = RecorderStats(
        node=status["node"],
        state=status["state"],
        output=str(status["output"]),
        file=str(status["file"] or ""),
        queued_bytes=status["queued_bytes"],
        max_queue_bytes=status["max_queue_bytes"],
    )
    message.stamp.FromNanoseconds(time.time_ns())
    totals = dict.fromkeys(_COUNTERS, 0)
    for topic, stats in sorted(recorder.stats.topics.items()):
        counts = {name: getattr(stats, name) for name in _COUNTERS}
        message.topics.add(topic=topic, **counts)
        for name, value in counts.items():
            totals[name] += value
    for name, value in totals.items():
        setattr(message, name, value)
    return message


class StatsPublisher:
    """Publishes ``stats_message(recorder)`` every ``period_s`` seconds, and once more on close."""

    def __init__(self, recorder: RecorderNode, period_s: float = 1.0) -> None:
        self._recorder = recorder
        self._publisher = recorder.node.create_publisher(RecorderStats, STATS_TOPIC)
        self._timer = recorder.node.create_timer(period_s, self.publish)

    def publish(self) -> None:
        self._publisher.publish(stats_message(self._recorder))

    def close(self) -> None:
        """Stop the timer and publish the final counts (call once the file is complete)."""
        self._timer.cancel()
        self.publish()
        self._publisher.close()
