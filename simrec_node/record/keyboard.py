"""Keys in the terminal while recording: space pauses/resumes, ``s`` splits now, ``n`` writes a
snapshot. Only when stdin is a terminal; the terminal is restored on stop."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from simrec_node.terminal_keys import KeyReader

from .control import apply_command
from .errors import RecordError

if TYPE_CHECKING:
    from .recorder_node import RecorderNode

HELP = "keys: space pause/resume, s split now, n snapshot"
_COMMANDS = {b" ": "toggle", b"s": "split", b"n": "snapshot"}


class RecordKeys(KeyReader):
    """Turns key presses into recorder commands; ``say`` gets one line about each outcome."""

    def __init__(self, recorder: RecorderNode, say: Callable[[str], None]) -> None:
        super().__init__(self._handle, name="simrec-record-keys")
        self._recorder = recorder
        self._say = say

    def _handle(self, keys: bytes) -> bytes:
        for key in keys:
            command = _COMMANDS.get(bytes([key]).lower())
            if command is not None:
                self._say(self.run(command))
        return b""

    def run(self, command: str) -> str:
        """Apply one command; the line that tells what happened."""
        try:
            reply = apply_command(self._recorder, command)
        except RecordError as exc:
            return f"simrec: {exc}"
        if command == "split":
            return f"split: finished {reply['path']}, recording to {reply['file']}"
        if command == "snapshot":
            return f"snapshot: wrote {reply['path']}"
        return f"now {reply['state']}"
