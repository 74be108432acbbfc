"""The recorder: graph subscriptions -> bounded queue -> MCAP writer thread.

Payload bytes go from the Zenoh sample to the file without being decoded. Everything that
does not reach the file is counted per topic: sequence gaps (lost in transport), queue
overflow (the disk could not keep up), and messages whose type has no schema on the graph.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from simrec_node import __version__
from simrec_node.graph import Node, QoS, RawMessage, Subscription

from .mcap_writer import McapWriter
from .output import open_writer
from .selection import TopicSelection
from .stats import RecordingStats, TopicStats

log = logging.getLogger("simrec.record")
_IDLE_SLEEP_S = 0.002
_RELEASE_BYTES = 4 * 1024 * 1024
_UNSEEN = object()


@dataclass
class RecordOptions:
    """What ``simrec record`` was asked to do; the CLI only fills this in."""

    output: Path
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


class Recorder:
    """Records the selected topics of the graph into one MCAP file.

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
        self._accepted = 0
        self._queue_lock = threading.Lock()
        self._space = threading.Condition(self._queue_lock)  # signalled as the writer frees bytes
        self._selected: dict[str, TopicStats | None] = {}  # None: not selected
        self._channels: dict[tuple[str, str], int] = {}
        self._missing_schema: set[str] = set()
        self._node: Node | None = None
        self._subscriptions: list[Subscription] = []
        self._writer: McapWriter | None = None
        self._writer_thread: threading.Thread | None = None
        self._writing = threading.Event()
        self._write_error: BaseException | None = None

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    @property
    def write_error(self) -> BaseException | None:
        """The error that stopped the writer thread (a full disk, say), if any."""
        return self._write_error

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
        self._writer = open_writer(
            options.output,
            compression=options.compression,
            chunk_size=options.chunk_size,
            library=f"simrec {__version__}",
        )
        self._node = Node(options.node_name, options.namespace, domain=options.domain)
        self.started_ns = time.time_ns()
        self._writer.add_metadata("simrec.recording", self._recording_metadata())
        if options.meta:
            self._writer.add_metadata("simrec.meta", dict(options.meta))
        self._writing.set()
        self._writer_thread = threading.Thread(target=self._write_loop, name="mcap writer", daemon=True)
        self._writer_thread.start()
        qos = QoS(depth=options.queue_depth)
        patterns = ["/**"] if options.selection.needs_wildcard else list(options.selection.topics)
        for pattern in patterns:
            self._subscriptions.append(self._node.create_subscription(None, pattern, self._on_message, qos))

    def stop(self) -> None:
        """Finish the file: drain what was received, write stats, close. Safe to call twice."""
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions.clear()
        self._writing.clear()
        if self._writer_thread is not None:
            self._writer_thread.join()
            self._writer_thread = None
        if self._writer is not None:
            try:
                if self._write_error is None:
                    self._writer.add_metadata("simrec.topic_stats", self.stats.as_metadata())
                self._writer.close()
            finally:
                self._writer = None
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
            self._queue.append((stats, message))
            if limit is not None and self._accepted >= limit:
                self.finished.set()
        if self._tap is not None:
            self._tap(message)

    # writer thread --------------------------------------------------------------------
    def _write_loop(self) -> None:
        queue = self._queue
        write = self._writer.write
        channels: dict[str, tuple[str, int]] = {}  # topic -> (type name, channel id) last used
        written_bytes = 0  # handed back to the queue's account in batches, not per message
        try:
            while True:
                try:
                    stats, message = queue.popleft()
                except IndexError:
                    self._release_queue_bytes(written_bytes)
                    written_bytes = 0
                    if not self._writing.is_set():
                        return
                    time.sleep(_IDLE_SLEEP_S)
                    continue
                topic = message.topic
                type_name, channel_id = channels.get(topic, ("", 0))
                if type_name != message.type_name or not channel_id:
                    channel_id = self._channel_for(topic, message.type_name)
                    channels[topic] = (message.type_name, channel_id)
                data = message.data
                write(channel_id, message.sequence, message.receive_time_ns, message.publish_time_ns, data)
                stats.written += 1
                size = len(data)
                stats.bytes_written += size
                written_bytes += size
                if written_bytes > _RELEASE_BYTES:
                    self._release_queue_bytes(written_bytes)
                    written_bytes = 0
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

    def _channel_for(self, topic: str, type_name: str) -> int:
        channel_id = self._channels.get((topic, type_name))
        if channel_id is None:
            channel_id = self._open_channel(topic, type_name)
        return channel_id

    def _open_channel(self, topic: str, type_name: str) -> int:
        """Register schema and channel on first sight; the schema comes from the graph."""
        type_info = self._node.lookup_type(type_name) if type_name else None
        if type_info is None:
            if type_name not in self._missing_schema:
                self._missing_schema.add(type_name)
                log.warning("no schema for type %r on %s: recording it without one", type_name, topic)
            schema_id = 0
        else:
            schema_id = self._writer.add_schema(type_info.name, "protobuf", type_info.descriptor_set)
        channel_id = self._writer.add_channel(topic, "protobuf", schema_id)
        self._channels[(topic, type_name)] = channel_id
        return channel_id

    def _count_unwritten(self) -> None:
        """After a write failure, everything still queued is lost: count it as such."""
        with self._queue_lock:
            while self._queue:
                stats, _ = self._queue.popleft()
                stats.queue_dropped += 1
            self._queued_bytes = 0
