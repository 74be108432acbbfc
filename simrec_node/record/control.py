"""Controlling a running recorder over the graph, like rosbag2's recorder services.

Every recorder answers Zenoh queries on ``simrec/<domain>/recorder/control``. The query
payload is one command in text; a ``node`` selector parameter (``?node=/simrec_recorder`` or
just ``simrec_recorder``) limits it to one recorder, the others stay silent. The reply is the
recorder's ``status()`` as JSON (it carries ``"node"``), plus ``"path"`` for split/snapshot:

- ``status``            no change, just the state
- ``pause`` / ``resume`` / ``toggle``
- ``split``             finish the current file now and go on in the next one (split recordings)
- ``snapshot``          write the buffered messages to a new file (``--snapshot-mode``)

A command that does not apply, or that the recorder does not know, leaves it as it was and
replies ``{"node", "error"}``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import zenoh

from simrec_node.graph import Node

from .errors import RecordError

if TYPE_CHECKING:
    from .recorder import Recorder

COMMANDS = ("status", "pause", "resume", "toggle", "split", "snapshot")


def control_key(domain: str) -> str:
    return f"simrec/{domain}/recorder/control"


def node_matches(fully_qualified_name: str, wanted: str) -> bool:
    """``wanted`` is a fully qualified node name, or a bare name that matches in any namespace."""
    if wanted.startswith("/"):
        return fully_qualified_name == wanted
    return fully_qualified_name.rsplit("/", 1)[-1] == wanted


def apply_command(recorder: Recorder, command: str) -> dict:
    """Run one text command on the recorder; its status afterwards (and the file, for split/snapshot).

    Raises `RecordError` for a command that is unknown or does not apply now."""
    verb = command.strip()
    path: Path | None = None
    if verb == "pause":
        recorder.pause()
    elif verb == "resume":
        recorder.resume()
    elif verb == "toggle":
        recorder.toggle()
    elif verb == "split":
        path = recorder.split()
    elif verb == "snapshot":
        path = recorder.snapshot()
    elif verb != "status":
        raise RecordError(f"unknown recorder command {command!r}; try {', '.join(COMMANDS)}")
    reply = recorder.status()
    if path is not None:
        reply["path"] = str(path)
    return reply


class ControlServer:
    """Answers control queries for one recorder until closed."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        node = recorder.node
        self._name = node.fully_qualified_name
        self._queryable = node.session.declare_queryable(control_key(node.domain), self._answer)

    def _answer(self, query: zenoh.Query) -> None:
        wanted = query.parameters.get("node")
        if wanted and not node_matches(self._name, wanted):
            query.drop()  # addressed to another recorder
            return
        command = query.payload.to_string() if query.payload is not None else "status"
        try:
            reply = apply_command(self._recorder, command)
        except (RecordError, OSError) as exc:  # OSError: a snapshot the disk refused
            reply = {"node": self._name, "error": str(exc)}
        query.reply(query.key_expr, json.dumps(reply))

    def close(self) -> None:
        self._queryable.undeclare()


def send_command(
    node: Node, command: str, *, target: str | None = None, timeout_s: float = 2.0, answer_s: float = 30.0
) -> list[dict]:
    """Send ``command`` to every recorder of the node's domain (or the one named ``target``).

    Waits up to ``timeout_s`` for a recorder to be found and up to ``answer_s`` for the
    replies (a snapshot of a large cache takes a while to write); returns them, maybe none."""
    deadline = time.monotonic() + timeout_s
    querier = node.session.declare_querier(control_key(node.domain), timeout=timeout_s + answer_s)
    try:
        # A fresh session needs a moment to find the recorders; a query sent before reaches nobody.
        while not querier.matching_status.matching and time.monotonic() < deadline:
            time.sleep(0.02)
        if not querier.matching_status.matching:
            return []
        parameters = f"node={target}" if target else None
        replies = []
        for reply in querier.get(payload=command, parameters=parameters):
            if reply.ok is not None:
                answer = json.loads(reply.ok.payload.to_string())
                if not target or node_matches(answer.get("node", ""), target):
                    replies.append(answer)
        return replies
    finally:
        querier.undeclare()
