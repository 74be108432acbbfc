"""What a recording says while it runs and when it ends (``record`` and ``demo --record``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from simrec_node.record.stats_topic import STATS_TOPIC

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
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def replacing_note(output: Path) -> str | None:
    """What ``--overwrite`` is about to replace, said before it is gone (None: nothing)."""
    if not output.exists():
        return None
    if output.is_dir():
        old = sorted(output.glob(f"{output.name}_[0-9]*.mcap"))
        return f"replacing {_plural(len(old), 'file')} in {output}/ (--overwrite)" if old else None
    return f"replacing {output} ({human_bytes(output.stat().st_size)}, --overwrite)"


def _file_bytes(files: list[Path]) -> int:
    return sum(os.path.getsize(path) for path in files if os.path.exists(path))


def report_recording(recorder: RecorderNode, output: object, domain: str) -> int:
    """What was written and what was lost, per topic; the exit code (1 if writing failed or
    nothing on ``domain`` was found to record)."""
    stats = recorder.stats
    files = recorder.files
    where = f"{output}/ ({_plural(len(files), 'file')})" if recorder.options.split else str(output)
    print(
        f"wrote {where}: {_plural(stats.written, 'message')} on {_plural(len(stats.topics), 'topic')}, "
        f"{human_bytes(stats.bytes_written)} of message payload in {human_bytes(_file_bytes(files))} "
        f"on disk, {stats.dropped:,} dropped; the queue peaked at "
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
    if not set(stats.topics) - {STATS_TOPIC}:  # only the recorder's own counters
        selection = recorder.options.selection
        wanted = " ".join(selection.topics) if not selection.needs_wildcard else "any selected topic"
        print(
            f"simrec: error: nothing recorded: nothing was found to record on graph domain {domain!r} "
            f"(no message on {wanted} arrived); `simrec topic list --domain {domain}` shows what "
            "publishes there; choose the domain with --domain or $SIMREC_DOMAIN",
            file=sys.stderr,
        )
        return 1
    return 0
