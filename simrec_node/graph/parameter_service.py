"""Node parameters over the graph: listed and set from another process, as ROS 2's parameter
services allow (the live view maps them to Foxglove's Parameters panel).

Each node that declares a parameter answers queries on ``simrec/<domain>/params/<node name>``.
An empty query asks for its parameters; ``{"set": {name: value}}`` sets some, running the
node's on-set callbacks first. The reply is ``{"node", "parameters"}``, plus ``"error"`` when a
set was refused (nothing changed).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import zenoh

from .parameters import ParameterError, ParameterValue

if TYPE_CHECKING:
    from .node import Node


def parameters_key(domain: str, fully_qualified_name: str | None = None) -> str:
    """The key of one node's parameters, or (None) of every node's."""
    return f"simrec/{domain}/params" + (fully_qualified_name or "/**")


class ParameterServer:
    """Answers parameter queries for one node until closed."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._queryable = node.session.declare_queryable(
            parameters_key(node.domain, node.fully_qualified_name), self._answer
        )

    def _answer(self, query: zenoh.Query) -> None:
        node = self._node
        reply: dict = {"node": node.fully_qualified_name}
        try:
            request = json.loads(query.payload.to_string()) if query.payload is not None else {}
            values = request.get("set") if isinstance(request, dict) else None
            if values is not None:
                if not isinstance(values, dict):
                    raise ParameterError('a parameter set is {"set": {"name": value}}')
                node.parameters.set_many(values)
        except (ValueError, ParameterError) as exc:  # ParameterError is a ValueError; bad JSON too
            reply["error"] = str(exc)
        reply["parameters"] = node.parameters.as_dict()
        query.reply(query.key_expr, json.dumps(reply))

    def close(self) -> None:
        self._queryable.undeclare()


def list_parameters(node: Node, timeout_s: float = 1.0) -> list[dict]:
    """Every node's parameters in ``node``'s domain: ``[{"node", "parameters"}, ...]``."""
    return _ask(node, parameters_key(node.domain), None, timeout_s)


def set_parameters(
    node: Node, target: str, values: dict[str, ParameterValue], timeout_s: float = 2.0
) -> dict | None:
    """Set parameters of the node named ``target`` (fully qualified); its reply, None if absent."""
    replies = _ask(node, parameters_key(node.domain, target), json.dumps({"set": values}), timeout_s)
    return replies[0] if replies else None


def _ask(node: Node, key: str, payload: str | None, timeout_s: float) -> list[dict]:
    replies = []
    for reply in node.session.get(key, payload=payload, timeout=timeout_s):
        if reply.ok is not None:
            replies.append(json.loads(reply.ok.payload.to_string()))
    return replies
