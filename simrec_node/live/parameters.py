"""Graph nodes' parameters in Foxglove's Parameters panel, listed and settable.

A parameter shows as ``<node>.<name>`` (``/demo_sim.action_scale``), the way foxglove_bridge
names ROS 2 parameters. Gets and sets go over the graph (``graph.list_parameters`` /
``graph.set_parameters``), so the node's on-set callbacks run in its own process; a refused set
reaches the viewer as an error status.
"""

from __future__ import annotations

import logging
from collections import defaultdict

import foxglove
from foxglove.websocket import Client

from simrec_node.graph import Node, list_parameters, set_parameters

from .server import LiveServer

log = logging.getLogger("simrec.live")


class GraphParameters:
    """The ``on_get_parameters``/``on_set_parameters`` half of the bridge's ServerListener."""

    def __init__(self) -> None:
        self.node: Node | None = None  # set once the bridge joined the graph
        self.server: LiveServer | None = None

    def on_get_parameters(
        self, client: Client, param_names: list[str], request_id: str | None = None
    ) -> list[foxglove.Parameter]:
        if self.node is None:
            return []
        found = [
            _parameter(f"{reply['node']}.{name}", value)
            for reply in list_parameters(self.node)
            for name, value in sorted(reply.get("parameters", {}).items())
        ]
        wanted = set(param_names)
        return [p for p in found if not wanted or p.name in wanted]

    def on_set_parameters(
        self, client: Client, parameters: list[foxglove.Parameter], request_id: str | None = None
    ) -> list[foxglove.Parameter]:
        if self.node is None:
            return []
        by_node: dict[str, dict] = defaultdict(dict)
        for parameter in parameters:
            node_name, dot, name = parameter.name.rpartition(".")
            if not dot or not node_name.startswith("/"):
                self._refuse(f"{parameter.name!r} is not <node>.<parameter> (e.g. /demo_sim.action_scale)")
                continue
            by_node[node_name][name] = parameter.get_value()
        result = []
        for node_name, values in by_node.items():
            reply = set_parameters(self.node, node_name, values)
            if reply is None:
                self._refuse(f"no node {node_name} answered on domain {self.node.domain}")
                continue
            if "error" in reply:
                self._refuse(f"{node_name}: {reply['error']}")
            current = reply.get("parameters", {})
            result += [_parameter(f"{node_name}.{name}", current[name]) for name in values if name in current]
        return result

    def _refuse(self, message: str) -> None:
        log.warning("live view: parameter set refused: %s", message)
        if self.server is not None:
            self.server.publish_status(f"parameter set refused: {message}", foxglove.StatusLevel.Error, None)


def _parameter(name: str, value: object) -> foxglove.Parameter:
    if isinstance(value, float):  # 1.0 would read back as an integer
        return foxglove.Parameter(name, value=value, type=foxglove.ParameterType.Float64)
    return foxglove.Parameter(name, value=value)
