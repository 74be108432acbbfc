"""``LiveBridge``: graph topics as Foxglove channels, payload bytes forwarded untouched.

Messages reach the bridge through ``forward`` (a recorder's tap, or the bridge's own
best-effort subscriptions via ``follow``). ``forward`` runs on the caller's thread and does
a dict lookup and ``has_sinks()``; bytes are handed to the server only while a client is
subscribed, in batches every 10 ms, and the server keeps at most ``backlog`` messages per
client (oldest dropped), so a slow or stuck viewer never holds anyone back. Each topic
reaches viewers at up to ``max_rate_hz`` messages per second, and messages of 64 KiB and more
share a byte budget (``max_bytes_per_s``): beyond either they skip the viewers (never the
recording) and are counted in ``thinned``. In a flood most messages are held back by a
count, without reading the clock: that is the recorder's per-message cost of a viewer. While
a recorder that ``yield_to`` names is behind, big messages go to viewers at most twice a
second per topic: the recording comes first.
Schema lookups, which wait on the graph, and the connection graph refresh run on the
bridge's own thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from time import monotonic_ns
from typing import TYPE_CHECKING

import foxglove
from foxglove.websocket import Capability

from simrec_node.graph import Node, QoS, RawMessage, Reliability, Subscription

from .budget import SMALL_BYTES, ByteBudget
from .client_publish import BridgeListener, ClientPublishing
from .graph_view import GraphView
from .parameters import GraphParameters
from .server import LiveServer, open_server, viewer_url
from .services import player_services, recorder_services

if TYPE_CHECKING:
    from foxglove._foxglove_py import BaseChannel  # what Channel.base is; not exported

log = logging.getLogger("simrec.live")
_GRAPH_GATHER_S = 0.3  # how long each graph refresh listens for liveliness tokens
_RETRY_S = 5.0  # a type whose schema could not be fetched is asked for again after this
_FOLLOW_QOS = QoS(reliability=Reliability.BEST_EFFORT, depth=256)
# Two raw 640x480 rgb8 cameras at 30 Hz (55 MB/s) pass whole; a 400 MB/s burst of frames is thinned.
DEFAULT_MAX_BYTES_PER_S = 64e6
# A 1 kHz control loop's state passes whole. A viewer draws at display rate, and each message
# sent costs the recorder's process ~6 us and the viewer 2-3.5 us: at 100k msg/s the recorder
# lost a third of its throughput to a viewer on the same two cores.
DEFAULT_MAX_RATE_HZ = 1000.0
# Messages for viewers wait up to this long and go to the server together: its send threads
# then wake once per batch instead of once per message (~130 us a wake on the development VM,
# which made a 1 kHz topic cost the recorder ~1 us per message of a 150k msg/s flood). A
# viewer draws a frame every ~16 ms, so the wait does not show.
_BATCH_NS = 10_000_000
# While messages flow, the bridge thread looks this often for a batch that no later message
# carried (the end of a burst). A batch is sent by the thread whose message finds it due: a
# wake of the bridge thread for each batch took the GIL from the recorder's threads. In 12
# alternated rounds of the 1 MiB flood with a viewer, the recorder kept 0.87 of its throughput
# with those wakes and 0.96-1.01 without.
_SWEEP_S = 0.1
# While the recorder is behind, a topic's big messages go to viewers this far apart. A viewer
# still sees a fresh frame twice a second; in a 1 GB/s flood of 1 MiB frames the ~60 frames/s
# that the byte budget allows cost the recorder 15-35 % of its throughput on two cores (each
# one ~1 ms of CPU for copies and the socket, and memory bandwidth the writer needs).
_BEHIND_INTERVAL_NS = 500_000_000
# Messages held back by count before the clock is read again (LiveBridge._hold_back). Reading
# it on every message made ``forward`` cost 280-290 ns a message in a flood with a viewer,
# against 130-200 ns now (an empty call: 40-80 ns), of the recorder's ~4-6 us. A topic that
# slows down right after a flood loses at most this many messages to viewers.
_MAX_HOLD = 32


@dataclass
class LiveOptions:
    """Where to serve and how much to hold for each client."""

    host: str = "127.0.0.1"
    port: int = 8765  # 0: any free port (see LiveBridge.port)
    tls_cert: Path | None = None  # PEM certificate and key: serve wss://
    tls_key: Path | None = None
    backlog: int = 256  # messages queued per client before the oldest are dropped
    domain: str | None = None
    node_name: str = "simrec_live"
    graph_period_s: float = 1.0
    # Bytes per second of big messages (64 KiB and more) sent to viewers; None: no limit.
    max_bytes_per_s: float | None = DEFAULT_MAX_BYTES_PER_S
    # Messages per second of each topic sent to viewers; None: every message.
    max_rate_hz: float | None = DEFAULT_MAX_RATE_HZ
    # Viewers' channels become graph publishers (Teleop, Publish panels); off: refused.
    allow_publish: bool = False


class LiveBridge:
    """Serves the live graph to Foxglove viewers over WebSocket (``foxglove.sdk.v1``).

    ``start()`` binds the server (``LiveError`` if it cannot) and joins the graph;
    ``forward(message)`` is the per-message entry point; ``stop()`` closes everything.
    Every published topic that ``accepts`` is advertised, including ones that appear later.
    """

    def __init__(
        self, options: LiveOptions | None = None, accepts: Callable[[str], bool] | None = None
    ) -> None:
        self.options = options or LiveOptions()
        self.forwarded = 0  # messages handed to the server (approximate: updated without a lock)
        limit = self.options.max_bytes_per_s
        self._budget = ByteBudget(limit) if limit else None
        rate = self.options.max_rate_hz
        if rate is not None and not rate > 0:
            raise ValueError(f"a live view rate must be > 0 messages/s, got {rate}")
        self._interval_ns = round(1e9 / rate) if rate else 0
        self._warned_thinning = False
        self._busy: Callable[[], bool] | None = None
        # (channel, payload, log time) for viewers, sent every _BATCH_NS: see _BATCH_NS
        self._outbox: deque[tuple[BaseChannel, bytes, int]] = deque()
        self._batch_lock = threading.Lock()
        self._next_batch_ns = 0
        self._sweeping = False  # the bridge thread looks at the outbox every _SWEEP_S
        self._swept_forwarded = 0  # self.forwarded when it last looked
        self._accepts = accepts or (lambda _topic: True)
        self._context = foxglove.Context()
        self._server: LiveServer | None = None
        self._publishing: ClientPublishing | None = None
        self._node: Node | None = None
        self._topics: dict[str, _LiveTopic] = {}
        self._requested: set[tuple[str, str]] = set()
        self._pending: deque[tuple[str, str]] = deque()
        self._retry_at: dict[tuple[str, str], float] = {}
        self._graph = GraphView()
        self._subscriptions: list[Subscription] = []
        self._wake = threading.Event()
        self._running = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.port if self._server is not None else self.options.port

    @property
    def url(self) -> str:
        tls = self.options.tls_cert is not None
        return viewer_url(self.options.host, self.port, tls=tls)

    @property
    def topics(self) -> dict[str, str]:
        """Advertised topics and their type names."""
        return {topic: live.type_name for topic, live in self._topics.items() if live.channel is not None}

    @property
    def thinned(self) -> dict[str, int]:
        """Topic -> messages not sent to viewers because of a limit (approximate: counted without a lock)."""
        counts = {topic: live.kept_from_viewers for topic, live in self._topics.items()}
        return {topic: count for topic, count in counts.items() if count}

    def start(self) -> None:
        """Bind the server and join the graph; on failure nothing is left running."""
        options = self.options
        capabilities = [Capability.ConnectionGraph, Capability.Services, Capability.Parameters]
        exposes = (
            "every topic of the graph it serves, the recorders' and players' controls, nodes' parameters"
        )
        publishing = ClientPublishing() if options.allow_publish else None
        listener = BridgeListener(GraphParameters(), publishing)
        if publishing is not None:
            capabilities.append(Capability.ClientPublish)
            exposes += ", and publishing onto the graph (--allow-publish)"
        self._server = open_server(
            host=options.host,
            port=options.port,
            context=self._context,
            capabilities=capabilities,
            supported_encodings=["json", "protobuf"],
            backlog=options.backlog,
            listener=listener,
            tls_cert=options.tls_cert,
            tls_key=options.tls_key,
            exposes=exposes,
        )
        self._publishing = publishing
        try:
            self._node = Node(options.node_name, domain=options.domain)
            self._server.add_services(recorder_services(self._node) + player_services(self._node))
            listener.joined(self._server, self._node)
        except BaseException:
            self.stop()
            raise
        self._running.set()
        self._thread = threading.Thread(target=self._run, name="live bridge", daemon=True)
        self._thread.start()

    def follow(self, topics: Iterable[str]) -> None:
        """Subscribe (best effort, so a slow bridge drops rather than slows publishers) to
        topics or ``*``/``**`` patterns and forward what arrives."""
        for topic in topics:
            self._subscriptions.append(self._node.create_subscription(None, topic, self.forward, _FOLLOW_QOS))

    def yield_to(self, busy: Callable[[], bool]) -> None:
        """While ``busy()`` is true (a recorder's writer is behind), big messages go to viewers
        at most twice a second per topic. Not with ``max_bytes_per_s=None``: that sends them all."""
        self._busy = busy

    def forward(self, message: RawMessage) -> None:
        """Send ``message`` to subscribed clients; cheap and non-blocking, safe on any thread."""
        live = self._topics.get(message.topic)
        if live is None or live.type_name != message.type_name:
            self._request(message.topic, message.type_name)
            return
        # The cheapest path first: in a flood with a viewer nearly every message is held back
        # here, by count, without reading the clock (see _hold_back).
        if live.hold:
            live.hold -= 1
            return
        if live.due_ns:  # 0 until a message of the topic went to a viewer
            now = monotonic_ns()
            if now < live.due_ns:
                self._hold_back(live, now)
                return
        base = live.base
        if base is None or not base.has_sinks():
            return
        data = message.data
        big = len(data) >= SMALL_BYTES and self._budget is not None
        if big and not self._budget.take(len(data)):
            self._thin(live, 1)
            return
        now = live.clock_ns = monotonic_ns()
        live.last_hold = 0
        interval = self._interval_ns
        if interval:  # the next slot: the rate on average, at most one message early
            live.due_ns = max(live.due_ns, now - interval) + interval
        if big and self._busy is not None and self._busy():
            live.due_ns = now + _BEHIND_INTERVAL_NS
        self._outbox.append((base, data, message.receive_time_ns))
        self.forwarded += 1
        if now >= self._next_batch_ns and self._send_batch():
            return
        if not self._sweeping:  # the bridge thread sends what no later message carries
            self._sweeping = True
            self._wake.set()

    def _hold_back(self, live: _LiveTopic, now: int) -> None:
        """``live``'s message came before its next slot: hold it back, and as many after it as
        should come before the slot judging by how fast they came since the clock was last read
        (three quarters of them, at most _MAX_HOLD, so a topic that slows down after a flood
        loses at most that many). Counted in ``thinned`` now; ``thinned`` subtracts what is
        still to be held."""
        came = live.last_hold + 1  # messages since the clock was last read for this topic
        if came == 1:
            # One early message says little of the rate: two that arrive together after a stall
            # of a 50 Hz topic looked like a flood and held back its next 32 (0.6 s). Hold this
            # one only, and judge on the next early one, over both (the clock read stays).
            live.last_hold = 1
            self._thin(live, 1)
            return
        hold = min(_MAX_HOLD, (live.due_ns - now) * came * 3 // (4 * max(now - live.clock_ns, 1)))
        live.clock_ns = now
        live.last_hold = live.hold = hold
        self._thin(live, 1 + hold)

    def _thin(self, live: _LiveTopic, count: int) -> None:
        """Count ``count`` of ``live``'s messages as kept from viewers; the first time, say so."""
        live.thinned += count
        if not self._warned_thinning:
            self._warn_thinning(live.topic)

    def _send_batch(self) -> bool:
        """Hand what waits in the outbox to the server, in arrival order (one thread at a time);
        False if another thread is sending (what it does not take goes with a later batch)."""
        if not self._batch_lock.acquire(blocking=False):
            return False
        try:
            self._next_batch_ns = monotonic_ns() + _BATCH_NS
            outbox = self._outbox
            while outbox:
                base, data, log_time = outbox.popleft()
                # BaseChannel.log: Channel.log's Python-side checks cost more than the log itself
                base.log(data, log_time, None)
        finally:
            self._batch_lock.release()
        return True

    def _warn_thinning(self, topic: str) -> None:
        """Once: the end report (CLI) or this line (in-process users have no report) says the rest."""
        self._warned_thinning = True
        log.warning(
            "live view: %s now skip the viewers, starting with %s (the recording keeps them all; %s)",
            self.describe_limits(),
            topic,
            "LiveOptions.max_rate_hz / --live-rate, LiveOptions.max_bytes_per_s / --live-bandwidth",
        )

    def describe_limits(self) -> str:
        """What is held back from viewers, in words: ``messages beyond 1000/s per topic, ...``."""
        limits = []
        if self.options.max_rate_hz:
            limits.append(f"messages beyond {self.options.max_rate_hz:g}/s per topic")
        if self.options.max_bytes_per_s:
            behind = (
                f" ({1e9 / _BEHIND_INTERVAL_NS:g}/s per topic while the recorder is behind)"
                if self._busy is not None
                else ""
            )
            limits.append(f"big messages beyond {self.options.max_bytes_per_s / 1e6:g} MB/s{behind}")
        return " and ".join(limits) or "no messages"

    def stop(self) -> None:
        """Stop forwarding, disconnect clients, leave the graph. Safe to call twice."""
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions.clear()
        self._running.clear()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._outbox.clear()  # the clients are about to go
        for live in self._topics.values():  # kept: their thinned counts are read after stop()
            if live.channel is not None:
                live.channel.close()
                live.channel = live.base = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._publishing is not None:
            self._publishing.close()
        if self._node is not None:
            self._node.shutdown()
            self._node = None

    def __enter__(self) -> LiveBridge:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _request(self, topic: str, type_name: str) -> None:
        """Ask the bridge thread for a channel (schema lookups wait on the graph: not here)."""
        key = (topic, type_name)
        if key not in self._requested:
            self._requested.add(key)
            self._pending.append(key)
            self._wake.set()

    # bridge thread ----------------------------------------------------------------------
    def _run(self) -> None:
        next_graph = 0.0
        while self._running.is_set():
            self._wake.clear()
            try:
                self._open_pending()
                if time.monotonic() >= next_graph:
                    next_graph = time.monotonic() + self.options.graph_period_s
                    self._refresh_graph()
            except Exception:  # the session closing under us at shutdown, or a bug: keep serving
                if self._running.is_set():
                    log.exception("live bridge: refreshing the graph failed")
            timeout = max(0.0, next_graph - time.monotonic())
            if self._sweeping and self._sweep():
                timeout = min(timeout, _SWEEP_S)
            self._wake.wait(timeout)

    def _sweep(self) -> bool:
        """Send a batch that is due and that no later message carried; True while messages
        still come (look again in _SWEEP_S), False once the outbox stays empty."""
        if self._outbox and monotonic_ns() >= self._next_batch_ns:
            self._send_batch()
        if self._outbox or self.forwarded != self._swept_forwarded:
            self._swept_forwarded = self.forwarded
            return True
        self._sweeping = False
        if self._outbox:  # a message came in between and saw the flag still set
            self._sweeping = True
            return True
        return False

    def _open_pending(self) -> None:
        while self._pending:
            topic, type_name = key = self._pending.popleft()
            old = self._topics.get(topic)
            if old is not None and old.type_name == type_name:
                continue
            thinned = old.kept_from_viewers if old is not None else 0
            if not self._accepts(topic):
                self._topics[topic] = _LiveTopic(topic, type_name, None, thinned)
                continue
            type_info = self._node.lookup_type(type_name) if type_name else None
            if type_info is None:
                if key not in self._retry_at:
                    log.warning(
                        "no schema for type %r on %s: not shown live until one appears", type_name, topic
                    )
                self._retry_at[key] = time.monotonic() + _RETRY_S
                continue
            channel = foxglove.Channel(
                topic,
                schema=foxglove.Schema(
                    name=type_info.name, encoding="protobuf", data=type_info.descriptor_set
                ),
                message_encoding="protobuf",
                context=self._context,
            )
            self._topics[topic] = _LiveTopic(topic, type_name, channel, thinned)
            if old is not None:  # the topic changed type: the old one may come back later
                self._requested.discard((topic, old.type_name))
                if old.channel is not None:
                    old.channel.close()
        now = time.monotonic()
        for key, when in list(self._retry_at.items()):
            if when <= now:
                self._requested.discard(key)

    def _refresh_graph(self) -> None:
        endpoints = self._node.endpoints(_GRAPH_GATHER_S)
        for endpoint in endpoints:
            if (
                endpoint.kind == "pub"
                and endpoint.topic not in self._topics
                and self._accepts(endpoint.topic)
            ):
                self._request(endpoint.topic, endpoint.type_name)
        view = GraphView.of(endpoints)
        if view != self._graph and self._server is not None:
            self._server.publish_connection_graph(view.to_foxglove())
            self._graph = view


class _LiveTopic:
    """One topic as the live view serves it: its type and channel (None: not served), when it
    may next go to viewers, how many messages to hold back before reading the clock again
    (``LiveBridge._hold_back``), and how many of its messages did not go."""

    __slots__ = (
        "base",
        "channel",
        "clock_ns",
        "due_ns",
        "hold",
        "last_hold",
        "thinned",
        "topic",
        "type_name",
    )

    def __init__(self, topic: str, type_name: str, channel: foxglove.Channel | None, thinned: int) -> None:
        self.topic = topic
        self.type_name = type_name
        self.channel = channel
        self.base = channel.base if channel is not None else None  # one attribute less per message
        self.due_ns = 0
        self.clock_ns = 0  # when the clock was last read for this topic
        self.hold = 0
        self.last_hold = 0  # what hold was set to then
        self.thinned = thinned  # counted ahead: includes what is still to be held (hold)

    @property
    def kept_from_viewers(self) -> int:
        """Messages that did not go to viewers so far."""
        return self.thinned - self.hold
