"""The node graph as Foxglove's ConnectionGraph: who publishes and who subscribes what."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import foxglove

from simrec_node.graph import Endpoint


@dataclass(frozen=True)
class GraphView:
    """A comparable snapshot of the graph: topic -> endpoint ids, per direction.

    Endpoints carry no node names on the wire, so ids read ``pub:<hex id>``/``sub:<hex id>``.
    The graph has no services yet, so ``advertisedServices`` stays empty.
    """

    published: tuple[tuple[str, tuple[str, ...]], ...] = ()
    subscribed: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, endpoints: Iterable[Endpoint]) -> GraphView:
        by_kind: dict[str, dict[str, list[str]]] = {"pub": {}, "sub": {}}
        for endpoint in endpoints:
            ids = by_kind[endpoint.kind].setdefault(endpoint.topic, [])
            ids.append(f"{endpoint.kind}:{endpoint.endpoint_id:x}")
        published, subscribed = (
            tuple((topic, tuple(sorted(ids))) for topic, ids in sorted(by_kind[kind].items()))
            for kind in ("pub", "sub")
        )
        return cls(published, subscribed)

    def to_foxglove(self) -> foxglove.ConnectionGraph:
        graph = foxglove.ConnectionGraph()
        for topic, ids in self.published:
            graph.set_published_topic(topic, list(ids))
        for topic, ids in self.subscribed:
            graph.set_subscribed_topic(topic, list(ids))
        return graph
