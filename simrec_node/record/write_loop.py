"""The writer thread: queue -> MCAP files, with the policies that keep a long run safe.

Between messages (every ~256 KiB or ~200 messages, and whenever the queue is empty) it looks
after the file: flush the open chunk once ``flush_interval_s`` has passed (so a SIGKILL loses at
most that much), start the next file at the size or duration limit, serve split and snapshot
requests, and watch the free disk space. A full disk closes the file cleanly and stops the
recording, or pauses it until there is room again; what it cost is counted per topic.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from simrec_node.errors import SimrecError

from .errors import RecordError
from .log_files import LogFiles
from .memory import release_free_memory
from .snapshot import SnapshotRing
from .stats import RecordingStats, TopicStats

_IDLE_SLEEP_S = 0.002
_RELEASE_BYTES = 4 * 1024 * 1024
_CHECK_BYTES = 256 * 1024  # look after the file at least this often...
_PER_MESSAGE_CHARGE = 1024  # ...and, for small messages, every ~200 of them
_DISK_CHECK_PERIOD_S = 1.0
_BACKLOG_BYTES = 32 * 1024 * 1024  # written without the queue running dry: there was a backlog
_TRIM_PERIOD_S = 10.0
_REQUEST_TIMEOUT_S = 60.0

log = logging.getLogger("simrec.record")


class LaterPayload:
    """A payload made on the writer thread: ``finish()`` returns the bytes (a device tensor's
    host copy, serialized once the copy is done, so the simulation never waits for the GPU)."""

    __slots__ = ("finish",)

    def __init__(self, finish: Callable[[], bytes]) -> None:
        self.finish = finish


# One queued message, flat so that making and taking it is cheap on a 100,000 msg/s path:
# (stats, topic, type name, payload, sequence, log time ns, publish time ns, queued bytes).
# A metadata record in the queue is (None, name, "", values, 0, 0, 0, 0).
Item = tuple[TopicStats | None, str, str, "bytes | LaterPayload", int, int, int, int]
DATA = 3


def _payload(item: Item) -> bytes | None:
    """The item's bytes, finishing a ``LaterPayload``; None (and a log line) if that fails."""
    data = item[DATA]
    if type(data) is LaterPayload:
        try:
            return data.finish()
        except Exception as exc:  # a device copy that failed: lose this message, not the recording
            log.error("cannot record a message on %s: %s", item[1], exc)
            return None
    return data


def _finished(item: Item) -> Item | None:
    """The item with its payload made (for the snapshot ring, which keeps it); None if that failed."""
    data = _payload(item)
    if data is None:
        return None
    return item if data is item[DATA] else (*item[:DATA], data, *item[DATA + 1 :])


class DiskFullError(SimrecError, OSError):
    """The disk filled up (or reached ``--min-free-space``); the file was closed first."""


@dataclass
class WritePolicy:
    """When to flush, when to start a new file, and what to do when the disk is full."""

    flush_interval_s: float = 1.0  # 0: only when a chunk is full
    max_file_bytes: int | None = None
    max_file_duration_s: float | None = None
    min_free_bytes: int = 0
    pause_on_disk_full: bool = False
    resume_free_bytes: int = 16 * 1024 * 1024  # after a pause for a full disk, go on at this much free
    snapshot: SnapshotRing | None = None


@dataclass
class _Request:
    kind: str  # "split" | "snapshot"
    done: threading.Event = field(default_factory=threading.Event)
    result: Path | None = None
    error: BaseException | None = None


class WriteLoop:
    """Runs on the writer thread; ``submit()`` is for the other threads."""

    def __init__(
        self,
        queue: deque[Item],
        release: Callable[[int], None],
        running: threading.Event,
        files: LogFiles,
        policy: WritePolicy,
        stats: RecordingStats,
        on_written: Callable[[Item, bytes], None] | None = None,
    ) -> None:
        self._queue = queue
        self._on_written = on_written
        self.processed = 0  # queue items taken and dealt with, published whenever the queue is empty
        self._drained = 0  # of those, taken by a snapshot request
        self._release = release
        self._running = running
        self._files = files
        self._policy = policy
        self._stats = stats
        self._requests: deque[_Request] = deque()
        self._syncer = _Syncer(files) if policy.flush_interval_s > 0 else None
        self._last_flush = time.monotonic()
        self._next_disk_check = 0.0
        self._size_at_disk_check = 0
        self._next_trim = 0.0
        self.disk_paused = False
        # What the user must hear at the end, in order: each pause, each file left unindexed.
        self.notices: list[str] = []
        self.finished = threading.Event()

    # other threads ---------------------------------------------------------------------
    def submit(self, kind: str) -> Path:
        """Ask the writer thread to split or snapshot, and wait for the file it finished."""
        request = _Request(kind)
        self._requests.append(request)
        if self.finished.is_set() and self._requests:  # lost the race with the loop's end
            raise RecordError("the recorder is not writing any more")
        if not request.done.wait(_REQUEST_TIMEOUT_S):
            raise RecordError(f"the writer did not answer the {kind} request in {_REQUEST_TIMEOUT_S:.0f} s")
        if request.error is not None:
            raise request.error
        return request.result

    # the writer thread -----------------------------------------------------------------
    def run(self) -> None:
        if self._syncer is not None:
            self._syncer.start()
        try:
            self._run()
        finally:
            self.finished.set()
            for request in self._requests:
                request.error = RecordError("the recorder stopped writing")
                request.done.set()
            if self._syncer is not None:
                self._syncer.stop()

    def _run(self) -> None:
        queue = self._queue
        files = self._files
        ring = self._policy.snapshot
        on_written = self._on_written
        channels: dict[str, tuple[str, int]] = {}  # topic -> (type name, channel id) of this file
        generation = files.generation
        write = files.writer.write if files.writer is not None else None
        unreleased = 0  # bytes handed back to the queue's account in batches, not per item
        processed = 0
        busy = 0  # bytes written since the queue was last empty
        budget = 0
        while True:
            try:
                item = queue.popleft()
            except IndexError:
                self._release(unreleased)
                busy += unreleased
                unreleased = 0
                self.processed = processed + self._drained
                if busy > _BACKLOG_BYTES:
                    self._after_backlog()
                busy = 0
                budget = self._look_after_file()
                if files.generation != generation:  # another file: its channel ids start over
                    generation = files.generation
                    write = files.writer.write if files.writer is not None else None
                    channels.clear()
                if not self._running.is_set() and not queue:
                    if files.open_chunk_bytes():  # the last chunk meets a full disk as any other
                        self._guarded(files.writer.flush)
                    return
                time.sleep(_IDLE_SLEEP_S)
                continue
            stats, topic, type_name, data, sequence, log_time, publish_time, size = item
            processed += 1
            unreleased += size
            if stats is None:  # a metadata record, in order with the messages
                self._add_metadata(topic, data)
            else:
                if type(data) is not bytes:
                    if (data := _payload(item)) is None:
                        stats.queue_dropped += 1
                        continue
                    item = (*item[:DATA], data, *item[DATA + 1 :])
                if ring is not None:
                    files.learn_type(type_name)  # now, while its publisher is surely there
                    ring.add(item)
                elif write is None:  # paused by a full disk
                    stats.disk_dropped += 1
                else:
                    known_type, channel_id = channels.get(topic, ("", 0))
                    try:
                        # A new topic's schema and channel records meet a full disk as messages do.
                        if known_type != type_name or not channel_id:
                            channel_id = files.channel_for(topic, type_name)
                            channels[topic] = (type_name, channel_id)
                        write(channel_id, sequence, log_time, publish_time, data)
                    except OSError as exc:
                        self._on_write_error(exc, stats)
                        budget = 0  # the file changed: look again now
                    else:
                        stats.written += 1
                        stats.bytes_written += len(data)
                        if on_written is not None:
                            on_written(item, data)
            if unreleased > _RELEASE_BYTES:
                self._release(unreleased)
                busy += unreleased
                unreleased = 0
            budget -= size + _PER_MESSAGE_CHARGE
            if budget <= 0 or stats is None:
                budget = self._look_after_file()
                if files.generation != generation:  # another file: its channel ids start over
                    generation = files.generation
                    write = files.writer.write if files.writer is not None else None
                    channels.clear()

    def _add_metadata(self, name: str, values: dict[str, str]) -> None:
        if self._files.writer is not None:
            try:
                self._files.writer.add_metadata(name, values)
            except OSError as exc:
                self._on_write_error(exc, None)

    def _look_after_file(self) -> int:
        """Serve requests, flush, split, watch the disk; returns bytes until the next look."""
        if self._requests:
            self._serve_requests()
        now = time.monotonic()
        policy = self._policy
        files = self._files
        if policy.min_free_bytes or self.disk_paused:
            # Once a second, and after each quarter of the reserve written: a fast stream must
            # not run through the whole reserve between two looks.
            size = files.size()
            if (
                now >= self._next_disk_check
                or abs(size - self._size_at_disk_check) > policy.min_free_bytes // 4
            ):
                self._next_disk_check = now + _DISK_CHECK_PERIOD_S
                self._size_at_disk_check = size
                self._check_free_space()
        if files.writer is None or policy.snapshot is not None:
            return _CHECK_BYTES
        if policy.max_file_duration_s is not None:
            first = files.writer.first_log_time  # a file's duration counts from its first message
            if first is not None and time.time_ns() - first >= policy.max_file_duration_s * 1e9:
                self._next_file()
        if policy.flush_interval_s and now - self._last_flush >= policy.flush_interval_s:
            self._last_flush = now
            if files.open_chunk_bytes():
                self._guarded(files.writer.flush)
                if self._syncer is not None:
                    self._syncer.request()
        if policy.max_file_bytes is None or files.writer is None:
            return _CHECK_BYTES
        slack = policy.max_file_bytes // 50
        left = policy.max_file_bytes - files.size()
        if left <= slack and files.open_chunk_bytes():
            # The estimate rests on the compression seen so far (none, early in a file):
            # write the chunk out and measure.
            self._guarded(files.writer.flush)
            left = policy.max_file_bytes - files.size()
        if left <= slack and files.writer is not None:
            self._next_file()
            left = policy.max_file_bytes
        return min(max(left, 1), _CHECK_BYTES)

    def _after_backlog(self) -> None:
        """The queue just ran dry after a backlog: give its memory back (at most every 10 s)."""
        now = time.monotonic()
        if now >= self._next_trim:
            self._next_trim = now + _TRIM_PERIOD_S
            release_free_memory()

    def _serve_requests(self) -> None:
        while self._requests:
            request = self._requests.popleft()
            try:
                if request.kind == "split":
                    request.result = self._next_file()
                else:
                    request.result = self._write_snapshot()
            except BaseException as exc:  # handed to the asking thread
                request.error = exc
            request.done.set()

    def _next_file(self) -> Path | None:
        """Close the open file and start the next one; returns the closed file."""
        if self._files.writer is None:
            raise RecordError("no file is open (the disk is full); nothing to split")
        closed = self._guarded(self._files.close_current)
        self._guarded(self._files.open_next)
        self._last_flush = time.monotonic()
        return closed

    def _write_snapshot(self) -> Path:
        ring = self._policy.snapshot
        released = 0
        while self._queue:  # what arrived before the request belongs in this snapshot
            item = self._queue.popleft()
            released += item[-1]
            self._drained += 1
            if item[0] is None or (item := _finished(item)) is None:
                continue
            self._files.learn_type(item[2])
            ring.add(item)
        self._release(released)
        items = ring.take()
        if not items:
            raise RecordError("the snapshot buffer is empty: nothing to write yet")
        files = self._files
        writer = files.open_next()
        write = writer.write
        try:
            for stats, topic, type_name, data, sequence, log_time, publish_time, _ in items:
                channel_id = files.channel_for(topic, type_name)
                write(channel_id, sequence, log_time, publish_time, data)
                stats.written += 1
                stats.bytes_written += len(data)
            return files.close_current()
        except OSError:
            if files.writer is not None:
                files.writer.discard_open_chunk()
                with contextlib.suppress(OSError):
                    files.close_current(with_stats=False)
            raise

    # a full disk -----------------------------------------------------------------------
    def _guarded(self, action: Callable[[], object]) -> object:
        try:
            return action()
        except OSError as exc:
            self._on_write_error(exc, None)
            return None

    def _on_write_error(self, exc: OSError, stats: TopicStats | None) -> None:
        """ENOSPC: give up the open chunk, close the file in the space that frees, then stop or
        pause. Any other OS error stops the recording as it is."""
        if stats is not None:
            stats.disk_dropped += 1
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT) or self._files.writer is None:
            raise exc
        writer = self._files.writer
        for channel_id, count in writer.discard_open_chunk().items():
            lost = self._stats.topic(self._files.topic_of(channel_id))
            lost.written -= count
            lost.disk_dropped += count
        self._disk_full(f"the disk is full ({exc.strerror})")

    def _check_free_space(self) -> None:
        policy = self._policy
        directory = self._files.layout.path if self._files.layout.split else self._files.layout.path.parent
        try:
            free = shutil.disk_usage(directory or ".").free
        except OSError:
            return
        if self.disk_paused:
            if free >= policy.resume_free_bytes:
                self.disk_paused = False
                self._files.open_next()
                self._last_flush = time.monotonic()
        elif free < policy.min_free_bytes and self._files.writer is not None:
            self._disk_full(f"free space fell below --min-free-space ({free:,} bytes left)")

    def _disk_full(self, reason: str) -> None:
        files = self._files
        path = files.path
        indexed = True
        try:
            files.close_current()
            closed = f"closed {path} cleanly"
        except OSError:  # no room even for the index
            indexed = False
            closed = f"{path} is left without its index; `simrec recover {path}` makes it whole"
        files.generation += 1  # the write loop sees that no file is open
        if self._policy.pause_on_disk_full:
            self.disk_paused = True
            self._next_disk_check = time.monotonic() + _DISK_CHECK_PERIOD_S
            self.notices.append(f"{reason}: {closed}; paused until there is room again")
            return
        if not indexed:  # the error says it too, but the report's last lines are what users read
            self.notices.append(closed)
        raise DiskFullError(f"{reason}: {closed}")


class _Syncer:
    """``fdatasync`` after each periodic flush, on its own thread so the writer never waits:
    what a flush put in the page cache survives a power cut, not only a killed process."""

    def __init__(self, files: LogFiles) -> None:
        self._files = files
        self._wanted = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="mcap fdatasync", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request(self) -> None:
        self._wanted.set()

    def stop(self) -> None:
        self._stopping = True
        self._wanted.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopping:
                return
            with self._files.sync_lock:  # only to take a descriptor of its own, quickly
                writer = self._files.writer
                if writer is None or writer.closed:
                    continue
                fd = os.dup(writer.fileno())
            # Outside the lock: a sync on a busy disk takes seconds, and the writer thread must
            # not wait for it to close a file at a split (its queue would fill meanwhile).
            try:
                os.fdatasync(fd)
            except OSError:
                pass  # a pipe, or a file system without sync: the flush itself still happened
            finally:
                os.close(fd)
