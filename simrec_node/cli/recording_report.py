"""What a recording says while it runs and when it ends (``record`` and ``demo --record``)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from .status import human_bytes

if TYPE_CHECKING:
    from simrec_node.record import RecorderNode


def recording_status(recorder: RecorderNode, elapsed: float) -> str:
    """The recorder's half of a live status line: volume, rate, drops, queue fill."""
    stats = recorder.stats
    rate = stats.written / elapsed if elapsed > 0 else 0.0
    state = recorder.status()["state"]
    ring = recorder.snapshot_ring
    buffered = f"  buffer {human_bytes(ring.bytes)} {ring.duration_s():.1f} s" if ring is not None else ""
    files = recorder.files
    part = f"  file {len(files)}" if recorder.options.split and files else ""
    return (
        f"{elapsed:7.1f} s  {state}  {stats.written:,} msgs  {human_bytes(stats.bytes_written)}  "
        f"{rate:,.0f} msg/s  {len(stats.topics)} topics  dropped {stats.dropped:,}  "
        f"queue {human_bytes(recorder.queued_bytes)}{buffered}{part}"
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def report_recording(recorder: RecorderNode, output: object) -> int:
    """What was written and what was lost, per topic; the exit code (1 if writing failed)."""
    stats = recorder.stats
    files = recorder.files
    where = f"{output}/ ({_plural(len(files), 'file')})" if recorder.options.split else str(output)
    print(
        f"wrote {where}: {stats.written:,} messages on {_plural(len(stats.topics), 'topic')}, "
        f"{human_bytes(stats.bytes_written)}, {stats.dropped:,} dropped; the queue peaked at "
        f"{human_bytes(recorder.peak_queued_bytes)} of {human_bytes(recorder.options.max_queue_bytes)}",
        file=sys.stderr,
    )
    for topic, topic_stats in sorted(stats.topics.items()):
        if topic_stats.dropped:
            causes = [
                (topic_stats.gap_dropped, "lost in transport"),
                (topic_stats.queue_dropped, "dropped by a full queue"),
                (topic_stats.disk_dropped, "lost to a full disk"),
            ]
            print(f"  {topic}: " + ", ".join(f"{n:,} {why}" for n, why in causes if n), file=sys.stderr)
    skipped = sum(topic_stats.paused_skipped for topic_stats in stats.topics.values())
    if skipped:
        print(f"  {skipped:,} messages arrived while paused and were not recorded", file=sys.stderr)
    ring = recorder.snapshot_ring
    if ring is not None and len(ring):
        print(
            f"  {len(ring):,} messages ({ring.duration_s():.1f} s) were still in the snapshot buffer "
            "and were not written: no snapshot was asked for after them",
            file=sys.stderr,
        )
    for notice in recorder.notices:
        print(f"simrec: warning: {notice}", file=sys.stderr)
    if recorder.write_error is not None:
        print(f"simrec: error: writing {output} failed: {recorder.write_error}", file=sys.stderr)
        return 1
    return 0
