"""The one recording engine under both front ends (``RecorderNode`` on the graph, and the
in-process ``simrec_node.Recorder``), as rosbag2's one ``Writer`` serves the recorder node and
users who write bags from their own code.

The engine owns the bounded queue (block or drop, counted per topic), the writer thread
(``WriteLoop``: channels per topic and type, periodic flush + ``fdatasync``, splitting, the
snapshot ring, a full disk), pause/resume, the recording metadata and the per-topic stats. A
front end counts what it receives, then ``offer``s each message; it never writes a file.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from simrec_node.graph import TypeInfo
from simrec_node.mcap.writer import CHUNK_SIZE
from simrec_node.version import __version__

from .errors import RecordError
from .log_files import LogFiles
from .output import OutputLayout
from .snapshot import SnapshotRing
from .stats import RecordingStats
from .write_loop import Item, LaterPayload, WriteLoop, WritePolicy

__all__ = ["EngineOptions", "Item", "LaterPayload", "RecordingEngine", "writer_behind"]


@dataclass
class EngineOptions:
    """How a recording is written; both front ends fill this in (``simrec record`` from flags)."""

    output: Path  # the file; for a split or snapshot recording, the directory of numbered files
    compression: str = "zstd"
    chunk_size: int = CHUNK_SIZE
    max_messages: int | None = None
    max_queue_bytes: int = 64 * 1024 * 1024  # bigger measured slower: fresh memory costs page faults
    max_queue_messages: int | None = None
    block_when_full: bool = True
    flush_interval_s: float = 1.0  # a SIGKILL loses at most this much; 0: flush only full chunks
    max_file_bytes: int | None = None  # split at this size
    max_file_duration_s: float | None = None  # split after this long
    snapshot_mode: bool = False  # keep a ring in memory, write it on snapshot()
    snapshot_max_bytes: int = 256 * 1024 * 1024
    snapshot_duration_s: float | None = None
    start_paused: bool = False
    min_free_bytes: int = 0  # close the file before the disk has less than this free
    pause_on_disk_full: bool = False  # False: stop with an error; True: wait for room, go on

    @property
    def split(self) -> bool:
        """Whether the output is a directory of numbered files."""
        return bool(self.max_file_bytes or self.max_file_duration_s or self.snapshot_mode)


def writer_behind(queued_bytes: int, max_queue_bytes: int) -> bool:
    """True while more than a quarter of a recorder's cache waits for its writer: optional work
    on the same machine (the live view) should give way."""
    return queued_bytes * 4 > max_queue_bytes


class RecordingEngine:
    """Queue, writer thread and files of one recording.

    ``start()`` opens the first file and starts the writer thread; ``offer()`` queues a message
    (any thread); ``close()`` writes everything queued, the stats and the summary, and closes.
    ``on_written(item, data)``, if given, runs on the writer thread after each message is
    written (the in-process recorder publishes there); it must not raise.
    """

    def __init__(
        self,
        options: EngineOptions,
        *,
        metadata: dict[str, dict[str, str]],
        lookup_type: Callable[[str], TypeInfo | None],
        name: str = "",
        on_written: Callable[[Item, bytes], None] | None = None,
    ) -> None:
        self.options = options
        self.name = name
        self.stats = RecordingStats()
        self.finished = threading.Event()  # set when max_messages is reached
        self.peak_queued_bytes = 0  # the most the queue held: how close the disk came to falling behind
        self._metadata = metadata
        self._lookup_type = lookup_type
        self._on_written = on_written
        self._queue: deque[Item] = deque()
        self._queued_bytes = 0
        self._max_bytes = options.max_queue_bytes
        self._max_count = options.max_queue_messages or sys.maxsize
        self._max_messages = options.max_messages if options.max_messages is not None else sys.maxsize
        self._accepted = 0  # messages queued, ever
        self._metadata_records = 0  # metadata records queued, ever
        self._lock = threading.Lock()
        self._space = threading.Condition(self._lock)  # signalled as the writer frees room
        self._waiting = 0  # callers blocked for room
        self._paused = options.start_paused
        self._files: LogFiles | None = None
        self._paths: list[Path] = []
        self._loop: WriteLoop | None = None
        self._policy: WritePolicy | None = None
        self._thread: threading.Thread | None = None
        self._writing = threading.Event()
        # The error that stopped the writer thread (a full disk, say), if any: a plain attribute,
        # read on every in-process log().
        self.write_error: BaseException | None = None
        self._closed = False

    # state, any thread -----------------------------------------------------------------
    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def is_behind(self) -> bool:
        """See ``writer_behind``: the live view gives way while this is true."""
        return writer_behind(self._queued_bytes, self._max_bytes)

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
        return self._policy.snapshot if self._policy is not None else None

    @property
    def closed(self) -> bool:
        return self._closed

    # control, any thread ---------------------------------------------------------------
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
                f"this recording {why}; splitting needs a size or duration limit "
                "(-b/--max-bag-size or --max-bag-duration; max_bag_size= or max_bag_duration= in-process)"
            )
        return self._running_loop().submit("split")

    def snapshot(self) -> Path:
        """Write the snapshot ring to the next numbered file; returns that file."""
        if not self.options.snapshot_mode:
            raise RecordError(
                "this recording is not in snapshot mode (--snapshot-mode; snapshot=True in-process)"
            )
        return self._running_loop().submit("snapshot")

    def status(self) -> dict[str, object]:
        """The recording's state, JSON-able (the control service's reply, the stats topic)."""
        stats = self.stats
        state = "snapshot" if self.options.snapshot_mode else "recording"
        if self._paused:
            state = "paused"
        elif self._loop is not None and self._loop.disk_paused:
            state = "disk full"
        current = self._files.path if self._files is not None else None
        return {
            "node": self.name,
            "state": state,
            "output": str(self.options.output),
            "file": str(current) if current is not None else "",
            "files": [str(path) for path in self.files],
            "received": stats.received,
            "written": stats.written,
            "dropped": stats.dropped,
            "queued_bytes": self._queued_bytes,
            "peak_queued_bytes": self.peak_queued_bytes,
            "max_queue_bytes": self._max_bytes,
        }

    def _running_loop(self) -> WriteLoop:
        if self._loop is None or not self._writing.is_set() or self.write_error is not None:
            raise RecordError("the recorder is not recording")
        return self._loop

    # lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Open the first file (so a file that cannot be written fails here) and start writing."""
        options = self.options
        self._files = LogFiles(
            OutputLayout(options.output, split=options.split),
            writer_options={
                "compression": options.compression,
                "chunk_size": options.chunk_size,
                "library": f"simrec {__version__}",
            },
            metadata=self._metadata,
            lookup_type=self._lookup_type,
            stats=self.stats,
        )
        self._paths = self._files.paths
        if not options.snapshot_mode:
            self._files.open_next()
        self._policy = WritePolicy(
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
            self._queue, self._release, self._writing, self._files, self._policy, self.stats, self._on_written
        )
        self._writing.set()
        self._thread = threading.Thread(target=self._write_thread, name="simrec writer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Write what is queued, then the stats, the summary and the index. Safe to call twice.

        The summary is written even after the writer thread failed: the file then holds, and
        its stats count, what was written before the failure."""
        if self._closed:
            return
        self._closed = True
        self._writing.clear()
        if self._thread is not None:
            self._thread.join()
        files, self._files = self._files, None
        if files is None:
            return
        try:
            files.close_last(with_stats=True)
        except OSError:
            if self.write_error is None:
                raise
        except Exception:
            if self.write_error is None:
                raise
            with contextlib.suppress(Exception):
                files.close_last(with_stats=False)

    def sync(self, timeout_s: float | None = None) -> bool:
        """Wait until everything queued so far is written; False if ``timeout_s`` passed first."""
        target = self._accepted + self._metadata_records
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        loop = self._loop
        while loop is not None and loop.processed < target:
            if self.write_error is not None or not self._writing.is_set():
                break
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.001)
        return True

    # feeding, any thread ---------------------------------------------------------------
    def offer(self, item: Item) -> bool:
        """Queue one message: ``(stats, topic, type name, payload, sequence, log time ns,
        publish time ns, bytes it holds)`` (the payload's, or the host copy a ``LaterPayload``
        waits for). The caller has counted it ``received``. False if it was not queued: paused
        (``paused_skipped``), no room with ``block_when_full`` off (``queue_dropped``), past
        ``max_messages``, or the writer has stopped (``disk_dropped``)."""
        stats = item[0]
        if self._paused:
            stats.paused_skipped += 1
            return False
        with self._lock:
            if self.write_error is not None:  # under the lock: the failed writer's count of what
                stats.disk_dropped += 1  # was queued (``_count_unwritten``) is then complete
                return False
            accepted = self._accepted
            if accepted >= self._max_messages:
                return False
            size = item[7]
            queued = self._queued_bytes + size
            if (queued > self._max_bytes and self._queued_bytes) or len(self._queue) >= self._max_count:
                # The writer may have failed while we waited: then what it left is counted, and so is this.
                if not self._wait_for_space(size) or self.write_error is not None:
                    if self.write_error is not None:
                        stats.disk_dropped += 1
                    else:
                        stats.queue_dropped += 1
                    return False
                queued = self._queued_bytes + size
            self._accepted = accepted = accepted + 1
            self._queued_bytes = queued
            if queued > self.peak_queued_bytes:
                self.peak_queued_bytes = queued
            self._queue.append(item)
            if accepted == self._max_messages:
                self.finished.set()
        return True

    def add_metadata(self, name: str, values: dict[str, str]) -> None:
        """An MCAP metadata record, written in order with the messages queued so far."""
        with self._lock:
            self._metadata_records += 1
            self._queue.append((None, name, "", values, 0, 0, 0, 0))

    def _wait_for_space(self, size: int) -> bool:
        """With ``block_when_full``, hold the caller back until the writer catches up; a message
        bigger than the whole queue waits for it to be empty. Called with the lock held."""
        if not self.options.block_when_full:
            return False
        self._waiting += 1
        try:
            while (self._queued_bytes and self._queued_bytes + size > self._max_bytes) or len(
                self._queue
            ) >= self._max_count:
                if self.write_error is not None or not self._writing.is_set():
                    return False
                self._space.wait(0.1)
        finally:
            self._waiting -= 1
        return True

    # the writer thread -----------------------------------------------------------------
    def _write_thread(self) -> None:
        try:
            self._loop.run()
        except BaseException as exc:  # never silent: the front ends report it
            self.write_error = exc
            self._count_unwritten()
            with self._lock:
                self._space.notify_all()

    def _release(self, count: int) -> None:
        if count or self._waiting:
            with self._lock:
                self._queued_bytes -= count
                self._space.notify_all()

    def _count_unwritten(self) -> None:
        """After a write failure, everything still queued is lost to the disk: count it as such."""
        with self._lock:
            while self._queue:
                stats = self._queue.popleft()[0]
                if stats is not None:
                    stats.disk_dropped += 1
            self._queued_bytes = 0
