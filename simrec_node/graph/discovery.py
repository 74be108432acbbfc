"""Who publishes and subscribes what: liveliness tokens and schema lookups on Zenoh.

Each publisher holds a liveliness token ``simrec/<domain>/graph/pub/<id>/<type>/<topic>``
(subscriptions: ``.../graph/sub/...``); the token vanishes when the process does, so the
graph view never goes stale. Each node answers ``simrec/<domain>/schema/<type>`` queries
with the FileDescriptorSet of the types it publishes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import zenoh


@dataclass(frozen=True)
class Endpoint:
    """One publisher or subscription seen on the graph."""

    kind: str  # "pub" or "sub"
    topic: str
    type_name: str
    endpoint_id: int


def token_key(domain: str, kind: str, endpoint_id: int, type_name: str, topic: str) -> str:
    return f"simrec/{domain}/graph/{kind}/{endpoint_id:016x}/{type_name or '_'}/{topic.lstrip('/')}"


def parse_token_key(domain: str, key: str) -> Endpoint | None:
    prefix = f"simrec/{domain}/graph/"
    if not key.startswith(prefix):
        return None
    parts = key[len(prefix) :].split("/", 3)
    if len(parts) != 4 or parts[0] not in ("pub", "sub"):
        return None
    kind, ident, type_name, topic = parts
    return Endpoint(kind, "/" + topic, "" if type_name == "_" else type_name, int(ident, 16))


def list_endpoints(session: zenoh.Session, domain: str, timeout_s: float = 1.0) -> list[Endpoint]:
    """Every live publisher and subscription in the domain, gathered for ``timeout_s``.

    A liveliness subscriber with history sees tokens as peers are found, so a process that
    just started (and is still scouting) does not report an empty graph.
    """
    alive: dict[str, Endpoint] = {}
    lock = threading.Lock()

    def on_token(sample: zenoh.Sample) -> None:
        key = str(sample.key_expr)
        endpoint = parse_token_key(domain, key)
        with lock:
            if sample.kind == zenoh.SampleKind.PUT and endpoint is not None:
                alive[key] = endpoint
            else:
                alive.pop(key, None)

    subscriber = session.liveliness().declare_subscriber(f"simrec/{domain}/graph/**", on_token, history=True)
    try:
        time.sleep(timeout_s)
    finally:
        subscriber.undeclare()
    with lock:
        return sorted(alive.values(), key=lambda e: (e.topic, e.kind, e.type_name, e.endpoint_id))


def schema_key(domain: str, type_name: str) -> str:
    return f"simrec/{domain}/schema/{type_name}"


def fetch_schema(session: zenoh.Session, domain: str, type_name: str, timeout_s: float = 2.0) -> bytes | None:
    """The FileDescriptorSet of ``type_name`` from any node that publishes it, or None."""
    for reply in session.get(schema_key(domain, type_name), timeout=timeout_s):
        if reply.ok is not None:
            return reply.ok.payload.to_bytes()
    return None
