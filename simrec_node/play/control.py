"""Controlling a running player over the graph, like ``ros2 bag play``'s services.

Each player serves ``/player/control`` (``Node.create_service``; every player of a domain
answers). The request is one command in text; the reply is the player's state as
JSON ``{"node", "status", "time_s", "rate", "start_s", "duration_s"}`` (times in seconds from
the start of the log):

- ``status``         no change, just the state
- ``pause`` / ``resume`` / ``toggle``
- ``seek T``         jump to T seconds from the start of the log
- ``rate R``         play at R times recorded speed
- ``next``           publish the next message now (while paused)
- ``stop``           end the player (as Ctrl-C does); a paused player at the end waits for this
"""

from __future__ import annotations

import json

from simrec_node.graph import Node

from .clock import MAX_RATE, MIN_RATE, PlaybackClock
from .errors import PlayError

SERVICE = "/player/control"


def state_dict(clock: PlaybackClock, start_ns: int, end_ns: int, name: str = "") -> dict:
    state = clock.state()
    status = (
        "stopped" if clock.stopped else "ended" if state.ended else "paused" if state.paused else "playing"
    )
    return {
        "node": name,
        "status": status,
        "time_s": round((state.time_ns - start_ns) / 1e9, 6),
        "rate": state.rate,
        "start_s": start_ns / 1e9,
        "duration_s": (end_ns - start_ns) / 1e9,
    }


def apply_command(clock: PlaybackClock, command: str, start_ns: int, end_ns: int) -> None:
    """Apply one text command to the clock; raises `PlayError` for a command it does not know."""
    verb, _, arg = command.strip().partition(" ")
    if verb == "status":
        return
    simple = {
        "pause": clock.pause,
        "resume": clock.resume,
        "toggle": clock.toggle,
        "next": clock.step,
        "stop": clock.stop,
    }
    if verb in simple:
        simple[verb]()
        return
    try:
        value = float(arg)
    except ValueError:
        raise PlayError(f"player command {command!r}: {verb} needs a number") from None
    if verb == "seek":
        clock.seek(min(max(start_ns + int(value * 1e9), start_ns), end_ns))
    elif verb == "rate":
        if not MIN_RATE <= value <= MAX_RATE:
            raise PlayError(f"player command {command!r}: rate must be between {MIN_RATE} and {MAX_RATE}")
        clock.set_rate(value)
    else:
        raise PlayError(f"unknown player command {command!r}; try pause, resume, seek T, rate R, next, stop")


class ControlServer:
    """Answers control calls for one player until closed."""

    def __init__(self, node: Node, clock: PlaybackClock, start_ns: int, end_ns: int) -> None:
        self._name, self._clock = node.fully_qualified_name, clock
        self._start_ns, self._end_ns = start_ns, end_ns
        self._service = node.create_service(SERVICE, self._answer)

    def _answer(self, command: str) -> str:
        command = command or "status"
        reply = state_dict(self._clock, self._start_ns, self._end_ns, self._name)
        try:
            apply_command(self._clock, command, self._start_ns, self._end_ns)
        except PlayError as exc:
            reply["error"] = str(exc)
        else:
            reply = state_dict(self._clock, self._start_ns, self._end_ns, self._name)
        return json.dumps(reply)

    def close(self) -> None:
        self._service.close()


def send_command(node: Node, command: str, timeout_s: float = 2.0) -> list[dict]:
    """Send ``command`` to every player of the node's domain; their replies (maybe none)."""
    replies = node.call_service(SERVICE, command, timeout_s=timeout_s, answer_s=timeout_s)
    return [
        json.loads(reply.text) if not reply.error else {"node": reply.node, "error": reply.error}
        for reply in replies
    ]
