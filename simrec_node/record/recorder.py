"""The recorder: graph subscriptions -> bounded queue -> writer thread -> MCAP file(s).

Payload bytes go from the Zenoh sample to the file without being decoded. Everything that
does not reach the file is counted per topic: sequence gaps (lost in transport), queue
overflow (the disk could not keep up), a full disk, and what was skipped while paused.
Control (pause, resume, split, snapshot, status) is safe from any thread.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from simrec_node.graph import Node, QoS, RawMessage, Subscription
from simrec_node.version import __version__

from .control import ControlServer
from .errors import RecordError
from .log_files import LogFiles
from .output import OutputLayout
from .selection import TopicSelection
from .snapshot import SnapshotRing
from .stats import RecordingStats, TopicStats
from .stats_topic import StatsPublisher
from .write_loop import WriteLoop, WritePolicy

_UNSEEN = object()


@dataclass
class RecordOptions:
    """What ``simrec record`` was asked to do; the CLI only fills this in."""

    output: Path  # the file; for a split or snapshot recording, the directory of numbered files
    selection: TopicSelection
    compression: str = "zstd"
    chunk_size: int = 4 * 1024 * 1024
    max_messages: int | None = None
    max_queue_bytes: int = 64 * 1024 * 1024  # bigger measured slower: fresh memory costs page faults
    block_when_full: bool = True
    queue_depth: int = 1024
    node_name: str = "simrec_recorder"
    namespace: str = "/"
    domain: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    command_line: str = ""
    flush_interval_s: float = 1.0  # a SIGKILL loses at most this much; 0: flush only full chunks
    max_file_bytes: int | None = None  # split at this size (-b/--max-bag-size)
    max_file_duration_s: float | None = None  # split after this long (--max-bag-duration)
    snapshot_mode: bool = False  # keep a ring in memory, write it on snapshot()
    snapshot_max_bytes: int = 256 * 1024 * 1024
    snapshot_duration_s: float | None = None
    start_paused: bool = False
    min_free_bytes: int = 0  # close the file before the disk has less than this free
    pause_on_disk_full: bool = False  # False: stop with an error; True: wait for room, go on
    stats_period_s: float = 1.0  # publish /simrec/stats this often; 0: not at all

    @property
    def split(self) -> bool:
        """Whether the output is a directory of numbered files."""
        return bool(self.max_file_bytes or self.max_file_duration_s or self.snapshot_mode)


def writer_behind(queued_bytes: int, max_queue_bytes: int) -> bool:
    """True while more than a quarter of a recorder's cache waits for its writer: optional work
    on the same machine (the live view) should give way."""
    return queued_bytes * 4 > max_queue_bytes


class Recorder:
    """Records the selected topics of the graph into an MCAP file (or numbered files).

    ``start()`` subscribes and starts the writer thread; ``stop()`` stops taking messages,
    writes everything already received, and closes the file with its indexes and summary.
    ``tap``, if given, sees each message once it is queued for the file, on the receiving
    thread (a live view, say): it must be quick and must never block.
    """

    def __init__(self, options: RecordOptions, tap: Callable[[RawMessage], None] | None = None) -> None:
        self.options = options
        self._tap = tap
        self.stats = RecordingStats()
        self.started_ns = 0
        self.finished = threading.Event()  # set when --max-messages is reached
        self._queue: deque[tuple[TopicStats, RawMessage]] = deque()
        self._queued_bytes = 0
        self.peak_queued_bytes = 0  # the most the queue held: how close the disk came to falling behind
        self._accepted = 0
        self._queue_lock = threading.Lock()
        self._space = threading.Condition(self._queue_lock)  # signalled as the writer frees bytes
        self._selected: dict[str, TopicStats | None] = {}  # None: not selected
        self._paused = options.start_paused
        self._node: Node | None = None
        self._subscriptions: list[Subscription] = []
        self._files: LogFiles | None = None
        self._paths: list[Path] = []  # the files' paths (LogFiles appends to it)
        self._loop: WriteLoop | None = None
        self._loop_policy: WritePolicy | None = None
        self._writer_thread: threading.Thread | None = None
        self._writing = threading.Event()
        self._write_error: BaseException | None = None
        self._control: ControlServer | None = None
        self._stats_topic: StatsPublisher | None = None

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def is_behind(self) -> bool:
        """See ``writer_behind``: the live view gives way while this is true."""
        return writer_behind(self._queued_bytes, self.options.max_queue_bytes)

    @property
    def write_error(self) -> BaseException | None:
        """The error that stopped the writer thread (a full disk, say), if any."""
        return self._write_error

    @property
    def node(self) -> Node | None:
        """The recorder's own graph node (for its control service and stats topic)."""
        return self._node

    @property
    def files(self) -> list[Path]:
        """The files written so far, the open one last."""
        return list(self._paths)

    @property
    def notices(self) -> list[str]:
        """What the user must hear at the end, in order (each pause for a full disk, say)."""
        return list(self._loop.notices) if self._loop is not None else []

    @property
    def snapshot_ring(self) -> SnapshotRing | None:
        return self._loop_policy.snapshot if self._loop_policy is not None else None

    # control (any thread) -----------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        """Stop writing what arrives (counted per topic as ``paused_skipped``) until ``resume()``."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    def toggle(self) -> None:
        self._paused = not self._paused

    def split(self) -> Path:
        """Close the open file now and go on in the next; returns the file just closed."""
        if not self.options.split or self.options.snapshot_mode:
            why = "writes a file per snapshot" if self.options.snapshot_mode else "writes one file"
            raise RecordError(
                f"this recording {why}; splitting needs -b/--max-bag-size or --max-bag-duration"
            )
        return self._running_loop().submit("split")

    def snapshot(self) -> Path:
        """Write the snapshot ring to the next numbered file; returns that file."""
        if not self.options.snapshot_mode:
            raise RecordError("this recording is not in snapshot mode (start it with --snapshot-mode)")
        return self._running_loop().submit("snapshot")

    def status(self) -> dict[str, object]:
        """The recorder's state, JSON-able (for the control service and the stats topic)."""
        stats = self.stats
        state = "snapshot" if self.options.snapshot_mode else "recording"
        if self._paused:
            state = "paused"
        elif self._loop is not None and self._loop.disk_paused:
            state = "disk full"
        current = self._files.path if self._files is not None else None
        return {
            "node": self._node.fully_qualified_name if self._node is not None else self.options.node_name,
            "state": state,
            "output": str(self.options.output),
            "file": str(current) if current is not None else "",
            "files": [str(path) for path in self.files],
            "received": stats.received,
            "written": stats.written,
            "dropped": stats.dropped,
            "queued_bytes": self._queued_bytes,
            "peak_queued_bytes": self.peak_queued_bytes,
            "max_queue_bytes": self.options.max_queue_bytes,
        }

    def _running_loop(self) -> WriteLoop:
        if self._loop is None or not self._writing.is_set() or self._write_error is not None:
            raise RecordError("the recorder is not recording")
        return self._loop

    def start(self) -> None:
        """Open the file and subscribe; on failure nothing is left running or half-written."""
        try:
            self._start()
        except BaseException:
            self.stop()
            with contextlib.suppress(OSError):
                self.options.output.unlink(missing_ok=True)
            raise

    def _start(self) -> None:
        options = self.options
        self._node = Node(options.node_name, options.namespace, domain=options.domain)
        self.started_ns = time.time_ns()
        metadata = {"simrec.recording": self._recording_metadata()}
        if options.meta:
            metadata["simrec.meta"] = dict(options.meta)
        self._files = LogFiles(
            OutputLayout(options.output, split=options.split),
            writer_options={
                "compression": options.compression,
                "chunk_size": options.chunk_size,
                "library": f"simrec {__version__}",
            },
            metadata=metadata,
            lookup_type=self._node.lookup_type,
            stats=self.stats,
        )
        self._paths = self._files.paths
        if not options.snapshot_mode:
            self._files.open_next()  # now, so a file that cannot be written fails the start
        self._loop_policy = WritePolicy(
            flush_interval_s=options.flush_interval_s,
            max_file_bytes=options.max_file_bytes,
            max_file_duration_s=options.max_file_duration_s,
            min_free_bytes=options.min_free_bytes,
            pause_on_disk_full=options.pause_on_disk_full,
            resume_free_bytes=max(2 * options.min_free_bytes, 4 * options.chunk_size),
            snapshot=(
                SnapshotRing(options.snapshot_max_bytes, options.snapshot_duration_s)
                if options.snapshot_mode
                else None
            ),
        )
        self._loop = WriteLoop(
            self._queue, self._release_queue_bytes, self._writing, self._files, self._loop_policy, self.stats
        )
        self._writing.set()
        self._writer_thread = threading.Thread(target=self._write_thread, name="mcap writer", daemon=True)
        self._writer_thread.start()
        qos = QoS(depth=options.queue_depth)
        patterns = ["/**"] if options.selection.needs_wildcard else list(options.selection.topics)
        for pattern in patterns:
            self._subscriptions.append(self._node.create_subscription(None, pattern, self._on_message, qos))
        self._control = ControlServer(self)
        if options.stats_period_s > 0:
            self._stats_topic = StatsPublisher(self, options.stats_period_s)

    def stop(self) -> None:
        """Finish the file: drain what was received, write stats, close. Safe to call twice."""
        if self._control is not None:
            self._control.close()
            self._control = None
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions.clear()
        self._writing.clear()
        if self._writer_thread is not None:
            self._writer_thread.join()
            self._writer_thread = None
        if self._files is not None:
            files, self._files = self._files, None
            files.close_last(with_stats=self._write_error is None)
        if self._stats_topic is not None:
            self._stats_topic.close()  # publishes the final counts
            self._stats_topic = None
        if self._node is not None:
            self._node.shutdown()
            self._node = None

    def __enter__(self) -> Recorder:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _recording_metadata(self) -> dict[str, str]:
        return {
            "simrec_version": __version__,
            "command_line": self.options.command_line or " ".join(sys.argv),
            "host": socket.gethostname(),
            "start_time_ns": str(self.started_ns),
            "domain": self._node.domain,
            "node_name": self.options.node_name,
        }

    # subscription threads -------------------------------------------------------------
    def _on_message(self, message: RawMessage) -> None:
        """Count, check for gaps, and queue: the only work done per message on arrival."""
        topic = message.topic
        stats = self._selected.get(topic, _UNSEEN)
        if stats is _UNSEEN:
            stats = self._selected[topic] = (
                self.stats.topic(topic) if self.options.selection.accepts(topic) else None
            )
        if stats is None:
            return
        stats.received += 1
        stats.gap_dropped += stats.gaps.observe(message.publisher_id, message.sequence)
        if self._paused:
            stats.paused_skipped += 1
            return
        size = len(message.data)
        with self._queue_lock:
            limit = self.options.max_messages
            if limit is not None and self._accepted >= limit:
                return
            if self._queued_bytes + size > self.options.max_queue_bytes and not self._wait_for_space(size):
                stats.queue_dropped += 1
                return
            self._accepted += 1
            self._queued_bytes += size
            if self._queued_bytes > self.peak_queued_bytes:
                self.peak_queued_bytes = self._queued_bytes
            self._queue.append((stats, message))
            if limit is not None and self._accepted >= limit:
                self.finished.set()
        if self._tap is not None:
            self._tap(message)

    # writer thread --------------------------------------------------------------------
    def _write_thread(self) -> None:
        try:
            self._loop.run()
        except BaseException as exc:  # a full disk must not pass silently: stop() reports it
            self._write_error = exc
            self._count_unwritten()
            with self._queue_lock:
                self._space.notify_all()

    def _wait_for_space(self, size: int) -> bool:
        """With ``block_when_full``, hold the publisher back (through Zenoh) until the writer
        catches up; a message bigger than the whole queue waits for it to be empty.
        Called with the queue lock held; False means drop the message."""
        if not self.options.block_when_full:
            return False
        limit = self.options.max_queue_bytes
        while self._queued_bytes and self._queued_bytes + size > limit:
            if self._write_error is not None or self._writer_thread is None:
                return False
            self._space.wait(0.1)
        return True

    def _release_queue_bytes(self, count: int) -> None:
        if count:
            with self._queue_lock:
                self._queued_bytes -= count
                self._space.notify_all()

    def _count_unwritten(self) -> None:
        """After a write failure, everything still queued is lost to the disk: count it as such."""
        with self._queue_lock:
            while self._queue:
                stats, _ = self._queue.popleft()
                stats.disk_dropped += 1
            self._queued_bytes = 0
