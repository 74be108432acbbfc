"""``Node``: the ROS 2-style handle a program uses to join the simrec graph."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import zenoh
from google.protobuf.message import Message

from .discovery import Endpoint, fetch_schema, list_endpoints, schema_key
from .names import (
    default_domain,
    has_wildcards,
    normalize_namespace,
    resolve_topic,
    validate_domain,
    validate_node_name,
)
from .parameter_service import PARAMETERS_SERVICE, parameters_handler
from .parameters import Parameters, ParameterValue
from .publisher import Publisher
from .qos import RELIABLE, QoS
from .service import Service, ServiceHandler, ServiceReply, call_service
from .session import acquire_session, release_session, shared_memory_pool
from .subscription import Subscription
from .timer import Timer
from .types import TypeInfo


class Node:
    """A named participant of the graph: publishers, subscriptions, timers, parameters.

    Topics resolve as in ROS 2 (relative names land under ``namespace``) and then pass
    through ``remaps`` (resolved name -> resolved name). All nodes of a process share one
    Zenoh session. Use as a context manager, or call ``shutdown()``.
    """

    def __init__(
        self,
        name: str,
        namespace: str = "/",
        *,
        domain: str | None = None,
        parameter_overrides: dict[str, ParameterValue] | None = None,
        remaps: dict[str, str] | None = None,
    ) -> None:
        self.name = validate_node_name(name)
        self.namespace = normalize_namespace(namespace)
        self.domain = validate_domain(domain) if domain is not None else default_domain()
        self.parameters = Parameters(parameter_overrides)
        self._remaps = {
            resolve_topic(src, self.namespace, name): resolve_topic(dst, self.namespace, name)
            for src, dst in (remaps or {}).items()
        }
        self._session = acquire_session()
        self._published_types: dict[str, bytes] = {}
        self._known_types: dict[str, TypeInfo] = {}
        self._schema_queryable: zenoh.Queryable | None = None
        self._parameter_service: Service | None = None
        self._parameter_lock = threading.Lock()
        self._entities: list[Publisher | Subscription | Timer | Service] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    @property
    def fully_qualified_name(self) -> str:
        return self.namespace.rstrip("/") + "/" + self.name

    @property
    def session(self) -> zenoh.Session:
        return self._session

    def resolve_topic(self, topic: str, *, allow_wildcards: bool = False) -> str:
        """The absolute, remapped name ``topic`` stands for in this node."""
        resolved = resolve_topic(topic, self.namespace, self.name, allow_wildcards=allow_wildcards)
        return self._remaps.get(resolved, resolved)

    def create_publisher(
        self, message_type: type[Message] | TypeInfo, topic: str, qos: QoS = RELIABLE
    ) -> Publisher:
        self._require_open()
        type_info = TypeInfo.of(message_type)
        self._serve_schema(type_info)
        publisher = Publisher(
            self._session, self.domain, self.resolve_topic(topic), type_info, qos, shared_memory_pool()
        )
        self._track(publisher)
        return publisher

    def create_subscription(
        self,
        message_type: type[Message] | TypeInfo | None,
        topic: str,
        callback: Callable[[Any], None],
        qos: QoS = RELIABLE,
    ) -> Subscription:
        """Subscribe to ``topic``; with ``message_type=None`` receive ``RawMessage`` objects.

        Raw subscriptions may use ``*`` (one part) and ``**`` (any parts) in the topic.
        """
        self._require_open()
        resolved = self.resolve_topic(topic, allow_wildcards=message_type is None)
        type_info = TypeInfo.of(message_type) if message_type is not None else None
        if type_info is None and has_wildcards(resolved) and qos.durability.value != "volatile":
            raise ValueError("late-joiner history needs a concrete topic, not a pattern")
        message_class = message_type if isinstance(message_type, type) else None
        subscription = Subscription(
            self._session, self.domain, resolved, type_info, callback, qos, message_class
        )
        self._track(subscription)
        return subscription

    def create_timer(self, period_s: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(period_s, callback)
        self._track(timer)
        return timer

    def create_service(self, name: str, handler: ServiceHandler) -> Service:
        """Answer calls of service ``name`` (resolved like a topic) with ``handler(request) -> reply``.

        The handler runs on a Zenoh thread; an exception it raises reaches the caller as an error.
        """
        self._require_open()
        service = Service(
            self._session, self.domain, self.resolve_topic(name), self.fully_qualified_name, handler
        )
        self._track(service)
        return service

    def call_service(
        self,
        name: str,
        request: str = "",
        *,
        node: str | None = None,
        timeout_s: float = 2.0,
        answer_s: float = 30.0,
    ) -> list[ServiceReply]:
        """Call service ``name`` on every node of the domain that serves it (or only ``node``).

        Waits up to ``timeout_s`` for a server to appear and ``answer_s`` for the replies."""
        self._require_open()
        return call_service(
            self._session,
            self.domain,
            self.resolve_topic(name),
            request,
            node=node,
            timeout_s=timeout_s,
            answer_s=answer_s,
        )

    def declare_parameter(self, name: str, default: ParameterValue) -> ParameterValue:
        with self._parameter_lock:  # a node with parameters can be asked for them over the graph
            if self._parameter_service is None and self._session is not None:
                self._parameter_service = self.create_service(PARAMETERS_SERVICE, parameters_handler(self))
        return self.parameters.declare(name, default)

    def add_on_set_parameters_callback(self, callback: Callable[[dict[str, ParameterValue]], None]) -> None:
        """``callback(changed)`` runs before parameters set from outside take effect (another
        process, a Foxglove Parameters panel); raising ``ParameterError`` refuses the set."""
        self.parameters.add_on_set_callback(callback)

    def get_parameter(self, name: str) -> ParameterValue:
        return self.parameters.get(name)

    def lookup_type(self, type_name: str, timeout_s: float = 2.0) -> TypeInfo | None:
        """The schema of ``type_name`` from whichever node publishes it (cached)."""
        known = self._known_types.get(type_name)
        if known is None:
            data = self._published_types.get(type_name) or fetch_schema(
                self._session, self.domain, type_name, timeout_s
            )
            if data is None:
                return None
            known = self._known_types[type_name] = TypeInfo(type_name, data)
        return known

    def endpoints(self, timeout_s: float = 1.0) -> list[Endpoint]:
        """Every live publisher and subscription in this node's domain."""
        return list_endpoints(self._session, self.domain, timeout_s)

    def topics(self, timeout_s: float = 1.0) -> dict[str, list[str]]:
        """Published topics and their type names, like ``ros2 topic list -t``."""
        found: dict[str, set[str]] = {}
        for endpoint in self.endpoints(timeout_s):
            if endpoint.kind == "pub":
                found.setdefault(endpoint.topic, set()).add(endpoint.type_name)
        return {topic: sorted(types) for topic, types in sorted(found.items())}

    def spin(self, timeout_s: float | None = None) -> None:
        """Block while callbacks run on their threads: until shutdown, Ctrl-C or timeout."""
        try:
            self._stopped.wait(timeout_s)
        except KeyboardInterrupt:
            self._stopped.set()

    def ok(self) -> bool:
        return not self._stopped.is_set()

    def shutdown(self) -> None:
        """Close every publisher, subscription and timer; leave the graph."""
        with self._lock:
            if self._session is None:
                return
            self._stopped.set()
            for entity in reversed(self._entities):
                entity.cancel() if isinstance(entity, Timer) else entity.close()
            self._entities.clear()
            if self._schema_queryable is not None:
                self._schema_queryable.undeclare()
            self._session = None
        release_session()

    def __enter__(self) -> Node:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def _require_open(self) -> None:
        if self._session is None:
            raise RuntimeError(f"node {self.fully_qualified_name} is shut down")

    def _track(self, entity: Publisher | Subscription | Timer | Service) -> None:
        with self._lock:
            if self._session is None:
                entity.cancel() if isinstance(entity, Timer) else entity.close()
                raise RuntimeError(f"node {self.fully_qualified_name} is shut down")
            self._entities.append(entity)

    def _serve_schema(self, type_info: TypeInfo) -> None:
        """Answer schema queries for the types this node publishes."""
        with self._lock:
            self._published_types[type_info.name] = type_info.descriptor_set
            if self._schema_queryable is None:
                self._schema_queryable = self._session.declare_queryable(
                    schema_key(self.domain, "*"), self._answer_schema
                )

    def _answer_schema(self, query: zenoh.Query) -> None:
        type_name = str(query.key_expr).rsplit("/", 1)[-1]
        data = self._published_types.get(type_name)
        if data is not None:
            query.reply(query.key_expr, data)
