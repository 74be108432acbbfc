"""What the launcher prints: children's lines as ``[name] ...``, its own notes, and ``--print``."""

from __future__ import annotations

import shlex
import signal
import threading
from typing import IO

from .actions import ArgDecl, LaunchPlan

_COLOURS = ("36", "33", "35", "32", "34", "91", "96", "93")  # cyan, yellow, magenta, green, ...
_LAUNCH = "launch"


class OutputPrinter:
    """Writes whole lines from many threads to one stream, each prefixed with its source.

    Colours only when ``colour`` is true (the launcher passes ``stream.isatty()``)."""

    def __init__(self, stream: IO[str], *, colour: bool = False) -> None:
        self._stream = stream
        self._colour = colour
        self._lock = threading.Lock()
        self._colours: dict[str, str] = {}

    def line(self, name: str, text: str) -> None:
        prefix = f"[{name}]"
        if self._colour:
            code = (
                "1"
                if name == _LAUNCH
                else self._colours.setdefault(name, _COLOURS[len(self._colours) % len(_COLOURS)])
            )
            prefix = f"\033[{code}m{prefix}\033[0m"
        with self._lock:
            self._stream.write(f"{prefix} {text}\n")
            self._stream.flush()

    def launch(self, text: str) -> None:
        """A note from the launcher itself."""
        self.line(_LAUNCH, text)

    def pump(self, name: str, pipe: IO[bytes]) -> None:
        """Copy ``pipe`` line by line until it closes (runs on a reader thread)."""
        with pipe:
            for raw in pipe:
                text = raw.decode(errors="replace").rstrip("\r\n")
                self.line(name, text.rsplit("\r", 1)[-1])


def describe_exit(code: int) -> str:
    if code == 0:
        return "exited cleanly (code 0)"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def format_args(file: object, decls: list[ArgDecl]) -> str:
    """``--show-args``: each declared argument, its default (or "required") and description."""
    if not decls:
        return f"{file}: no arguments"
    lines = [f"arguments of {file}:"]
    for decl in decls:
        default = "required" if decl.required else f"default: {decl.default!r}"
        lines.append(f"  {decl.name} ({default})")
        if decl.description:
            lines.append(f"      {decl.description}")
    return "\n".join(lines)


def format_plan(plan: LaunchPlan) -> str:
    """``--print``: arguments with their values, then each process as it would be started."""
    lines = [f"launch file: {plan.file}"]
    if plan.values:
        lines.append("arguments:")
        lines += [f"  {name} := {value!r}" for name, value in plan.values.items()]
    lines.append(f"processes ({len(plan.processes)}):")
    for process in plan.processes:
        flags = [process.kind, f"output={process.output}"]
        if process.required:
            flags.append("required")
        if process.respawn:
            flags.append(f"respawn (delay {process.respawn_delay:g} s)")
        lines.append(f"  [{process.name}] {', '.join(flags)}  ({process.where})")
        lines.append(f"      cmd: {shlex.join(process.cmd)}")
        if process.cwd:
            lines.append(f"      cwd: {process.cwd}")
        for name, value in process.env.items():
            lines.append(f"      env: {name}={value}")
        node = process.node
        if node is not None:
            if node.name:
                lines.append(f"      node name: {node.name}")
            lines.append(f"      namespace: {node.namespace or '/'}")
            for path in node.params_files:
                lines.append(f"      params file: {path}")
            for name, value in node.params:
                lines.append(f"      param: {name} = {value}")
            for source, target in node.remaps:
                lines.append(f"      remap: {source} -> {target}")
    return "\n".join(lines)
