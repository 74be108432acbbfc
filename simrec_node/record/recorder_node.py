"""``RecorderNode``: the graph front end of the recording engine (what ``simrec record`` runs).

Graph subscriptions hand each message to the engine as it arrived: payload bytes go from the
Zenoh sample to the file without being decoded. This front end counts what arrives and the
sequence gaps (lost in transport); the engine counts the rest (queue overflow, a full disk,
what was skipped while paused). Control (pause, resume, split, snapshot, status) is safe from
any thread, locally or over the ``/recorder/control`` service.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

from simrec_node.graph import Node, QoS, RawMessage, Subscription
from simrec_node.mcap import metadata as metadata_names
from simrec_node.version import __version__

from .control import ControlServer
from .engine import EngineOptions, RecordingEngine, writer_behind
from .errors import RecordError
from .selection import TopicSelection
from .snapshot import SnapshotRing
from .stats import RecordingStats
from .stats_topic import StatsPublisher

__all__ = ["RecordOptions", "RecorderNode", "writer_behind"]

_UNSEEN = object()


@dataclass(kw_only=True)
class RecordOptions(EngineOptions):
    """What ``simrec record`` was asked to do: how to write (the engine's options) and what to
    take from the graph. The CLI only fills this in."""

    selection: TopicSelection
    queue_depth: int = 1024
    node_name: str = "simrec_recorder"
    namespace: str = "/"
    domain: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    command_line: str = ""
    stats_period_s: float = 1.0  # publish /simrec/stats this often; 0: not at all

    def engine_options(self) -> EngineOptions:
        """The engine's share of these options."""
        return EngineOptions(**{f.name: getattr(self, f.name) for f in fields(EngineOptions)})


def recording_metadata(
    started_ns: int, domain: str, node_name: str, command_line: str = ""
) -> dict[str, str]:
    """The ``simrec.recording`` metadata record both front ends write."""
    return {
        "simrec_version": __version__,
        "command_line": command_line or " ".join(sys.argv),
        "host": socket.gethostname(),
        "start_time_ns": str(started_ns),
        "domain": domain,
        "node_name": node_name,
    }


class RecorderNode:
    """Records the selected topics of the graph into an MCAP file (or numbered files).

    ``start()`` subscribes and starts the engine's writer thread; ``stop()`` stops taking
    messages, writes everything already received, and closes the file with its indexes and
    summary. ``tap``, if given, sees each message once it is queued for the file, on the
    receiving thread (a live view, say): it must be quick and must never block.
    """

    def __init__(self, options: RecordOptions, tap: Callable[[RawMessage], None] | None = None) -> None:
        self.options = options
        self._tap = tap
        self._selected: dict[str, object] = {}  # topic -> TopicStats, or None: not selected
        self._node: Node | None = None
        self._engine: RecordingEngine | None = None
        self._subscriptions: list[Subscription] = []
        self._control: ControlServer | None = None
        self._stats_topic: StatsPublisher | None = None
        self.stats = RecordingStats()  # the engine's, once started
        self.started_ns = 0
        self.finished = threading.Event()  # set when --max-messages is reached

    # what the engine knows ------------------------------------------------------------
    @property
    def engine(self) -> RecordingEngine | None:
        return self._engine

    @property
    def node(self) -> Node | None:
        """The recorder's own graph node (for its control service and stats topic)."""
        return self._node

    @property
    def queued_bytes(self) -> int:
        return self._engine.queued_bytes if self._engine is not None else 0

    @property
    def peak_queued_bytes(self) -> int:
        return self._engine.peak_queued_bytes if self._engine is not None else 0

    def is_behind(self) -> bool:
        """See ``writer_behind``: the live view gives way while this is true."""
        return self._engine is not None and self._engine.is_behind()

    @property
    def write_error(self) -> BaseException | None:
        """The error that stopped the writer thread (a full disk, say), if any."""
        return self._engine.write_error if self._engine is not None else None

    @property
    def files(self) -> list[Path]:
        return self._engine.files if self._engine is not None else []

    @property
    def notices(self) -> list[str]:
        return self._engine.notices if self._engine is not None else []

    @property
    def snapshot_ring(self) -> SnapshotRing | None:
        return self._engine.snapshot_ring if self._engine is not None else None

    # control (any thread) -----------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._engine.paused if self._engine is not None else self.options.start_paused

    def pause(self) -> None:
        """Stop writing what arrives (counted per topic as ``paused_skipped``) until ``resume()``."""
        self._running().pause()

    def resume(self) -> None:
        self._running().resume()

    def toggle(self) -> None:
        self._running().toggle()

    def split(self) -> Path:
        """Close the open file now and go on in the next; returns the file just closed."""
        return self._running().split()

    def snapshot(self) -> Path:
        """Write the snapshot ring to the next numbered file; returns that file."""
        return self._running().snapshot()

    def status(self) -> dict[str, object]:
        """The recorder's state, JSON-able (for the control service and the stats topic)."""
        return self._running().status()

    def _running(self) -> RecordingEngine:
        if self._engine is None:
            raise RecordError("the recorder is not started")
        return self._engine

    # lifecycle ------------------------------------------------------------------------
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
        self._node = node = Node(options.node_name, options.namespace, domain=options.domain)
        self.started_ns = time.time_ns()
        metadata = {
            metadata_names.RECORDING: recording_metadata(
                self.started_ns, node.domain, options.node_name, options.command_line
            )
        }
        if options.meta:
            metadata[metadata_names.USER] = dict(options.meta)
        engine = RecordingEngine(
            options.engine_options(),
            metadata=metadata,
            lookup_type=node.lookup_type,
            name=node.fully_qualified_name,
        )
        self.stats = engine.stats
        self.finished = engine.finished
        engine.start()
        self._engine = engine
        qos = QoS(depth=options.queue_depth)
        patterns = ["/**"] if options.selection.needs_wildcard else list(options.selection.topics)
        for pattern in patterns:
            self._subscriptions.append(node.create_subscription(None, pattern, self._on_message, qos))
        self._control = ControlServer(node, engine)
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
        if self._engine is not None:
            self._engine.close()
        if self._stats_topic is not None:
            self._stats_topic.close()  # publishes the final counts
            self._stats_topic = None
        if self._node is not None:
            self._node.shutdown()
            self._node = None

    def __enter__(self) -> RecorderNode:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # subscription threads -------------------------------------------------------------
    def _on_message(self, message: RawMessage) -> None:
        """Count, check for gaps, and hand to the engine: the only work per message on arrival."""
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
        data = message.data
        item = (
            stats,
            topic,
            message.type_name,
            data,
            message.sequence,
            message.receive_time_ns,
            message.publish_time_ns,
            len(data),
        )
        if self._engine.offer(item) and self._tap is not None:
            self._tap(message)
