"""``LiveBridge``: graph topics as Foxglove channels, payload bytes forwarded untouched.

Messages reach the bridge through ``forward`` (a recorder's tap, or the bridge's own
best-effort subscriptions via ``follow``). ``forward`` runs on the caller's thread and does
a dict lookup and ``has_sinks()``; bytes are handed to the server only while a client is
subscribed, and the server keeps at most ``backlog`` messages per client (oldest dropped),
so a slow or stuck viewer never holds anyone back. Messages of 64 KiB and more share a byte
budget (``max_bytes_per_s``): beyond it they skip the viewers and are counted in ``thinned``.
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

import foxglove
from foxglove.websocket import Capability, WebSocketServer

from simrec_node.graph import Node, QoS, RawMessage, Reliability, Subscription

from .budget import SMALL_BYTES, ByteBudget
from .graph_view import GraphView
from .server import open_server, viewer_url

log = logging.getLogger("simrec.live")
_GRAPH_GATHER_S = 0.3  # how long each graph refresh listens for liveliness tokens
_RETRY_S = 5.0  # a type whose schema could not be fetched is asked for again after this
_STOP_WAIT_S = 2.0
_FOLLOW_QOS = QoS(reliability=Reliability.BEST_EFFORT, depth=256)
# Two raw 640x480 rgb8 cameras at 30 Hz (55 MB/s) pass whole; a 400 MB/s burst of frames is thinned.
DEFAULT_MAX_BYTES_PER_S = 64e6


@dataclass
class LiveOptions:
    """Where to serve and how much to hold for each client."""

    host: str = "127.0.0.1"
    port: int = 8765  # 0: any free port (see LiveBridge.port)
    backlog: int = 256  # messages queued per client before the oldest are dropped
    domain: str | None = None
    node_name: str = "simrec_live"
    graph_period_s: float = 1.0
    # Bytes per second of big messages (64 KiB and more) sent to viewers; None: no limit.
    max_bytes_per_s: float | None = DEFAULT_MAX_BYTES_PER_S


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
        self.thinned: dict[str, int] = {}  # topic -> big messages not sent to viewers (over budget)
        limit = self.options.max_bytes_per_s
        self._budget = ByteBudget(limit) if limit else None
        self._accepts = accepts or (lambda _topic: True)
        self._context = foxglove.Context()
        self._server: WebSocketServer | None = None
        self._node: Node | None = None
        # topic -> (type name, channel); None for a topic not served
        self._channels: dict[str, tuple[str, foxglove.Channel | None]] = {}
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
        return viewer_url(self.options.host, self.port)

    @property
    def topics(self) -> dict[str, str]:
        """Advertised topics and their type names."""
        return {topic: type_name for topic, (type_name, ch) in self._channels.items() if ch is not None}

    def start(self) -> None:
        """Bind the server and join the graph; on failure nothing is left running."""
        options = self.options
        self._server = open_server(
            host=options.host,
            port=options.port,
            context=self._context,
            capabilities=[Capability.ConnectionGraph],
            backlog=options.backlog,
        )
        try:
            self._node = Node(options.node_name, domain=options.domain)
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

    def forward(self, message: RawMessage) -> None:
        """Send ``message`` to subscribed clients; cheap and non-blocking, safe on any thread."""
        entry = self._channels.get(message.topic)
        if entry is None or entry[0] != message.type_name:
            self._request(message.topic, message.type_name)
            return
        channel = entry[1]
        if channel is not None and channel.base.has_sinks():
            data = message.data
            if len(data) >= SMALL_BYTES and self._budget is not None and not self._budget.take(len(data)):
                self._thin(message.topic)
                return
            # BaseChannel.log: Channel.log's Python-side checks cost more than the log itself
            channel.base.log(data, message.receive_time_ns, None)
            self.forwarded += 1

    def _thin(self, topic: str) -> None:
        if not self.thinned:  # once: the end report (CLI) or this line (in-process) says the rest
            log.warning(
                "live view: big messages beyond %g MB/s now skip the viewers, starting with %s "
                "(the recording keeps them all; LiveOptions.max_bytes_per_s / --live-bandwidth)",
                (self.options.max_bytes_per_s or 0) / 1e6,
                topic,
            )
        self.thinned[topic] = self.thinned.get(topic, 0) + 1

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
        for _type_name, channel in self._channels.values():
            if channel is not None:
                channel.close()
        self._channels.clear()
        if self._server is not None:
            _stop_server(self._server)
            self._server = None
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
            self._wake.wait(max(0.0, next_graph - time.monotonic()))

    def _open_pending(self) -> None:
        while self._pending:
            topic, type_name = key = self._pending.popleft()
            entry = self._channels.get(topic)
            if entry is not None and entry[0] == type_name:
                continue
            if not self._accepts(topic):
                self._channels[topic] = (type_name, None)
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
            self._channels[topic] = (type_name, channel)
            if entry is not None:  # the topic changed type: the old one may come back later
                self._requested.discard((topic, entry[0]))
                if entry[1] is not None:
                    entry[1].close()
        now = time.monotonic()
        for key, when in list(self._retry_at.items()):
            if when <= now:
                self._requested.discard(key)

    def _refresh_graph(self) -> None:
        endpoints = self._node.endpoints(_GRAPH_GATHER_S)
        for endpoint in endpoints:
            if (
                endpoint.kind == "pub"
                and endpoint.topic not in self._channels
                and self._accepts(endpoint.topic)
            ):
                self._request(endpoint.topic, endpoint.type_name)
        view = GraphView.of(endpoints)
        if view != self._graph and self._server is not None:
            self._server.publish_connection_graph(view.to_foxglove())
            self._graph = view


def _stop_server(server: WebSocketServer) -> None:
    """Stop the server, waiting at most ``_STOP_WAIT_S``: ``stop()`` waits for every client to
    take its close frame, which a client that stopped reading never does."""
    stopper = threading.Thread(target=server.stop, name="live server stop", daemon=True)
    stopper.start()
    stopper.join(_STOP_WAIT_S)
