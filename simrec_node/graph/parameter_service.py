"""Node parameters over the graph: listed and set from another process, as ROS 2's parameter
services allow (the live view maps them to Foxglove's Parameters panel).

Each node that declares a parameter serves ``PARAMETERS_SERVICE`` (a graph service, see
``service.py``). An empty request asks for its parameters; ``{"set": {name: value}}`` sets some,
running the node's on-set callbacks first. The reply is ``{"node", "parameters"}``, plus
``"error"`` when a set was refused (nothing changed).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from .parameters import ParameterError, ParameterValue

if TYPE_CHECKING:
    from .node import Node

PARAMETERS_SERVICE = "/simrec/parameters"


def parameters_handler(node: Node) -> Callable[[str], str]:
    """The service handler that answers parameter requests for ``node``."""

    def answer(request_text: str) -> str:
        reply: dict = {"node": node.fully_qualified_name}
        try:
            request = json.loads(request_text) if request_text else {}
            values = request.get("set") if isinstance(request, dict) else None
            if values is not None:
                if not isinstance(values, dict):
                    raise ParameterError('a parameter set is {"set": {"name": value}}')
                node.parameters.set_many(values)
        except (ValueError, ParameterError) as exc:  # ParameterError is a ValueError; bad JSON too
            reply["error"] = str(exc)
        reply["parameters"] = node.parameters.as_dict()
        return json.dumps(reply)

    return answer


def list_parameters(node: Node, timeout_s: float = 1.0) -> list[dict]:
    """Every node's parameters in ``node``'s domain: ``[{"node", "parameters"}, ...]``."""
    return _ask(node, "", None, timeout_s)


def set_parameters(
    node: Node, target: str, values: dict[str, ParameterValue], timeout_s: float = 2.0
) -> dict | None:
    """Set parameters of the node named ``target`` (fully qualified); its reply, None if absent."""
    replies = _ask(node, json.dumps({"set": values}), target, timeout_s)
    return replies[0] if replies else None


def _ask(node: Node, request: str, target: str | None, timeout_s: float) -> list[dict]:
    replies = node.call_service(
        PARAMETERS_SERVICE, request, node=target, timeout_s=timeout_s, answer_s=timeout_s
    )
    return [json.loads(reply.text) for reply in replies if not reply.error]
