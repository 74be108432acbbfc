"""What a recording says while it runs and when it ends (``record`` and ``demo --record``)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from .status import human_bytes

if TYPE_CHECKING:
    from simrec_node.record import Recorder


def recording_status(recorder: Recorder, elapsed: float) -> str:
    """The recorder's half of a live status line: volume, rate, drops, queue fill."""
    stats = recorder.stats
    rate = stats.written / elapsed if elapsed > 0 else 0.0
    return (
        f"{elapsed:7.1f} s  {stats.written:,} msgs  {human_bytes(stats.bytes_written)}  "
        f"{rate:,.0f} msg/s  {len(stats.topics)} topics  dropped {stats.dropped:,}  "
        f"queue {human_bytes(recorder.queued_bytes)}"
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def report_recording(recorder: Recorder, output: object) -> int:
    """What was written and what was lost, per topic; the exit code (1 if writing failed)."""
    stats = recorder.stats
    print(
        f"wrote {output}: {stats.written:,} messages on {_plural(len(stats.topics), 'topic')}, "
        f"{human_bytes(stats.bytes_written)}, {stats.dropped:,} dropped",
        file=sys.stderr,
    )
    for topic, topic_stats in sorted(stats.topics.items()):
        if topic_stats.dropped:
            print(
                f"  {topic}: {topic_stats.gap_dropped:,} lost in transport, "
                f"{topic_stats.queue_dropped:,} dropped by a full queue",
                file=sys.stderr,
            )
    if recorder.write_error is not None:
        print(f"simrec: error: writing {output} failed: {recorder.write_error}", file=sys.stderr)
        return 1
    return 0
