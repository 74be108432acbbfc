"""Controlling a running player over the graph, like ``ros2 bag play``'s services.

Each player answers Zenoh queries on ``simrec/<domain>/player/control`` (so every player of a
domain answers). The query payload is one command in text; the reply is the player's state as
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
import time

import zenoh

from simrec_node.graph import Node

from .clock import MAX_RATE, MIN_RATE, PlaybackClock
from .errors import PlayError


def control_key(domain: str) -> str:
    return f"simrec/{domain}/player/control"


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
    """Answers control queries for one player until closed."""

    def __init__(self, node: Node, clock: PlaybackClock, start_ns: int, end_ns: int) -> None:
        self._node, self._clock = node, clock
        self._start_ns, self._end_ns = start_ns, end_ns
        self._queryable = node.session.declare_queryable(control_key(node.domain), self._answer)

    def _answer(self, query: zenoh.Query) -> None:
        command = query.payload.to_string() if query.payload is not None else "status"
        reply = state_dict(self._clock, self._start_ns, self._end_ns, self._node.fully_qualified_name)
        try:
            apply_command(self._clock, command, self._start_ns, self._end_ns)
        except PlayError as exc:
            reply["error"] = str(exc)
        else:
            reply = state_dict(self._clock, self._start_ns, self._end_ns, reply["node"])
        query.reply(query.key_expr, json.dumps(reply))

    def close(self) -> None:
        self._queryable.undeclare()


def send_command(node: Node, command: str, timeout_s: float = 2.0) -> list[dict]:
    """Send ``command`` to every player of the node's domain; their replies (maybe none)."""
    deadline = time.monotonic() + timeout_s
    querier = node.session.declare_querier(control_key(node.domain), timeout=timeout_s)
    try:
        # A fresh session needs a moment to find the players; a query sent before reaches nobody.
        while not querier.matching_status.matching and time.monotonic() < deadline:
            time.sleep(0.02)
        replies = []
        for reply in querier.get(payload=command):
            if reply.ok is not None:
                replies.append(json.loads(reply.ok.payload.to_string()))
        return replies
    finally:
        querier.undeclare()
