"""Services: one request, a reply from each node that serves the name, as ROS 2 services.

A service is a Zenoh queryable on ``simrec/<domain>/srv/<name>``; the request and the reply
are text (a command, JSON, ...). A caller may address one node (``node="/simrec_recorder"``,
or a bare name that matches in any namespace): the other servers of the name stay silent.
Each reply carries the fully qualified name of the node that sent it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import zenoh

from .names import resolve_topic

ServiceHandler = Callable[[str], str]


def service_key(domain: str, name: str) -> str:
    """``/recorder/control`` in domain ``0`` -> ``simrec/0/srv/recorder/control``."""
    return f"simrec/{domain}/srv/{resolve_topic(name).lstrip('/')}"


def node_matches(fully_qualified_name: str, wanted: str) -> bool:
    """``wanted`` is a fully qualified node name, or a bare name that matches in any namespace."""
    if wanted.startswith("/"):
        return fully_qualified_name == wanted
    return fully_qualified_name.rsplit("/", 1)[-1] == wanted


@dataclass(frozen=True)
class ServiceReply:
    """One node's answer: ``text`` from its handler, or ``error`` where the handler raised."""

    node: str
    text: str = ""
    error: str = ""


class Service:
    """Answers calls of one service name for one node until closed (``Node.create_service``)."""

    def __init__(
        self, session: zenoh.Session, domain: str, name: str, node_name: str, handler: ServiceHandler
    ) -> None:
        self.name = resolve_topic(name)
        self._node_name = node_name
        self._handler = handler
        self._queryable: zenoh.Queryable | None = session.declare_queryable(
            service_key(domain, self.name), self._answer
        )

    def _answer(self, query: zenoh.Query) -> None:
        wanted = query.parameters.get("node")
        if wanted and not node_matches(self._node_name, wanted):
            query.drop()  # addressed to another node
            return
        request = query.payload.to_string() if query.payload is not None else ""
        try:
            reply = self._handler(request)
        except Exception as exc:  # the caller hears it; the service goes on
            query.reply_err(f"{self._node_name}: {exc}")
            return
        query.reply(query.key_expr, reply, attachment=self._node_name)

    def close(self) -> None:
        """Stop answering; safe to call twice (the node closes it again at shutdown)."""
        queryable, self._queryable = self._queryable, None
        if queryable is not None:
            queryable.undeclare()


def call_service(
    session: zenoh.Session,
    domain: str,
    name: str,
    request: str = "",
    *,
    node: str | None = None,
    timeout_s: float = 2.0,
    answer_s: float = 30.0,
) -> list[ServiceReply]:
    """Call ``name`` on every node that serves it (or only on ``node``); their replies, maybe none.

    Waits up to ``timeout_s`` for a server to be found (a fresh session needs a moment; a call
    sent before reaches nobody) and up to ``answer_s`` more for the replies."""
    deadline = time.monotonic() + timeout_s
    # Every server answers, and every answer is kept: Zenoh's defaults ask the best-matching
    # queryable and keep one reply per key, which hides all but one recorder.
    querier = session.declare_querier(
        service_key(domain, name),
        target=zenoh.QueryTarget.ALL,
        consolidation=zenoh.ConsolidationMode.NONE,
        timeout=timeout_s + answer_s,
    )
    try:
        while not querier.matching_status.matching and time.monotonic() < deadline:
            time.sleep(0.02)
        if not querier.matching_status.matching:
            return []
        replies = []
        for reply in querier.get(payload=request, parameters=f"node={node}" if node else None):
            if reply.ok is not None:
                sender = reply.ok.attachment.to_string() if reply.ok.attachment is not None else ""
                if not node or node_matches(sender, node):
                    replies.append(ServiceReply(sender, reply.ok.payload.to_string()))
            else:
                sender, _, error = reply.err.payload.to_string().partition(": ")
                replies.append(ServiceReply(sender, error=error))
        return replies
    finally:
        querier.undeclare()
