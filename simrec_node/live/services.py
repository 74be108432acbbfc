"""Recorder and player controls as Foxglove services (the Service Call panel), JSON in and out.

Thin glue: each service runs the control path ``simrec recorder ...`` / ``simrec player ...``
already use: a query over the graph to every recorder (or player) of the domain, or, for the
player serving the viewer itself, the command applied to its own clock. A request is a JSON
object (``{}``, ``{"node": "/simrec_recorder"}``, ``{"value": 12.5}`` for seek/rate); the response
is ``{"replies": [...]}``, each reply what ``simrec recorder|player status --json`` prints.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import foxglove

from simrec_node.errors import SimrecError
from simrec_node.graph import Node

RECORDER_PREFIX = "/simrec/recorder/"
PLAYER_PREFIX = "/simrec/player/"
PLAYER_COMMANDS = ("status", "pause", "resume", "toggle", "seek", "rate", "next")
_REQUEST_SCHEMA = {
    "type": "object",
    "properties": {
        "node": {"type": "string", "description": "only this node (recorders; default: every one)"},
        "value": {"type": "number", "description": "seek: seconds from the log start; rate: speed factor"},
    },
}
_RESPONSE_SCHEMA = {
    "type": "object",
    "properties": {"replies": {"type": "array", "items": {"type": "object"}}},
}


class ServiceCallError(SimrecError):
    """A call the controls cannot answer (no recorder running, a bad value): the viewer shows it."""


def _schema(name: str) -> foxglove.ServiceSchema:
    def message(title: str, body: dict) -> foxglove.MessageSchema:
        data = json.dumps(body).encode()
        return foxglove.MessageSchema(
            encoding="json", schema=foxglove.Schema(name=title, encoding="jsonschema", data=data)
        )

    return foxglove.ServiceSchema(
        name,
        request=message(f"{name}Request", _REQUEST_SCHEMA),
        response=message(f"{name}Response", _RESPONSE_SCHEMA),
    )


def _service(name: str, run: Callable[[dict], list[dict]]) -> foxglove.Service:
    def handle(request: foxglove.ServiceRequest) -> bytes:
        try:
            arguments = json.loads(request.payload or b"{}") or {}
        except ValueError as exc:
            raise ServiceCallError(f"{name}: the request is not JSON ({exc})") from None
        if not isinstance(arguments, dict):
            raise ServiceCallError(f"{name}: the request must be a JSON object, e.g. {{}}")
        return json.dumps({"replies": run(arguments)}).encode()

    return foxglove.Service(name, schema=_schema("simrec.Control"), handler=handle)


def _command(verb: str, arguments: dict) -> str:
    if verb not in ("seek", "rate"):
        return verb
    value = arguments.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ServiceCallError(f'{verb} needs a number: {{"value": 1.5}}')
    return f"{verb} {value}"


def recorder_services(node: Node) -> list[foxglove.Service]:
    """``/simrec/recorder/{status,pause,resume,toggle,split,snapshot}`` for every recorder the
    graph of ``node`` reaches (``{"node": NAME}`` picks one)."""
    from simrec_node.record.control import COMMANDS, send_command

    def run(verb: str) -> Callable[[dict], list[dict]]:
        def call(arguments: dict) -> list[dict]:
            target = arguments.get("node") or None
            replies = send_command(node, verb, target=target)
            if not replies:
                named = f" named {target}" if target else ""
                raise ServiceCallError(f"no recorder{named} is running on domain {node.domain}")
            return replies

        return call

    return [_service(RECORDER_PREFIX + verb, run(verb)) for verb in COMMANDS]


def player_services(node: Node) -> list[foxglove.Service]:
    """``/simrec/player/{status,pause,resume,toggle,seek,rate,next}`` for every player of the graph."""
    from simrec_node.play.control import send_command

    def run(verb: str) -> Callable[[dict], list[dict]]:
        def call(arguments: dict) -> list[dict]:
            replies = send_command(node, _command(verb, arguments))
            if not replies:
                raise ServiceCallError(f"no player is running on domain {node.domain}")
            return replies

        return call

    return [_service(PLAYER_PREFIX + verb, run(verb)) for verb in PLAYER_COMMANDS]


def local_player_services(apply: Callable[[str], dict]) -> list[foxglove.Service]:
    """The player services of the player serving this viewer: ``apply(command)`` runs the command
    on its clock and returns its state (``play.control``'s command and state)."""

    def run(verb: str) -> Callable[[dict], list[dict]]:
        def call(arguments: dict) -> list[dict]:
            try:
                return [apply(_command(verb, arguments))]
            except SimrecError as exc:
                raise ServiceCallError(str(exc)) from None

        return call

    return [_service(PLAYER_PREFIX + verb, run(verb)) for verb in PLAYER_COMMANDS]
