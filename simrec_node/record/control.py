"""Controlling a running recorder over the graph, like rosbag2's recorder services.

Every recorder (``simrec record``'s node, and an in-process ``Recorder`` on the graph) serves
``/recorder/control`` (``Node.create_service``). The request is one command in text; a call may
address one recorder by node name (``/simrec_recorder``, or just ``simrec_recorder``), the
others stay silent. The reply is the recorder's ``status()`` as JSON (it carries ``"node"``),
plus ``"path"`` for split/snapshot:

- ``status``            no change, just the state
- ``pause`` / ``resume`` / ``toggle``
- ``split``             finish the current file now and go on in the next one (split recordings)
- ``snapshot``          write the buffered messages to a new file (``--snapshot-mode``)

A command that does not apply, or that the recorder does not know, leaves it as it was and
replies ``{"node", "error"}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

from simrec_node.graph import Node, Service

from .errors import RecordError

COMMANDS = ("status", "pause", "resume", "toggle", "split", "snapshot")
SERVICE = "/recorder/control"


class Controllable(Protocol):
    """What a control command acts on: the recording engine, whichever front end feeds it."""

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def toggle(self) -> None: ...
    def split(self) -> Path: ...
    def snapshot(self) -> Path: ...
    def status(self) -> dict[str, object]: ...


def apply_command(recorder: Controllable, command: str) -> dict:
    """Run one text command on the recorder; its status afterwards (and the file, for split/snapshot).

    Raises `RecordError` for a command that is unknown or does not apply now."""
    verb = command.strip() or "status"
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
    """Answers control calls for one recorder on its node until closed."""

    def __init__(self, node: Node, recorder: Controllable) -> None:
        self._recorder = recorder
        self._name = node.fully_qualified_name
        self._service: Service = node.create_service(SERVICE, self._answer)

    def _answer(self, command: str) -> str:
        try:
            reply = apply_command(self._recorder, command)
        except (RecordError, OSError) as exc:  # OSError: a snapshot the disk refused
            reply = {"node": self._name, "error": str(exc)}
        reply["node"] = self._name
        return json.dumps(reply)

    def close(self) -> None:
        self._service.close()


def send_command(
    node: Node, command: str, *, target: str | None = None, timeout_s: float = 2.0, answer_s: float = 30.0
) -> list[dict]:
    """Send ``command`` to every recorder of the node's domain (or the one named ``target``).

    Waits up to ``timeout_s`` for a recorder to be found and up to ``answer_s`` for the
    replies (a snapshot of a large cache takes a while to write); returns them, maybe none."""
    replies = node.call_service(SERVICE, command, node=target, timeout_s=timeout_s, answer_s=answer_s)
    return [
        json.loads(reply.text) if not reply.error else {"node": reply.node, "error": reply.error}
        for reply in replies
    ]
