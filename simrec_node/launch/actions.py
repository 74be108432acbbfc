"""The resolved action model: what a launch file asks for once args, conditions and includes are applied.

The parser turns YAML into these plain objects; the supervisor runs them and the printer
shows them. Nothing here reads files or starts processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ArgDecl:
    """A declared launch argument; ``default is None`` means it is required."""

    name: str
    default: str | None
    description: str
    where: str

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass
class NodeSettings:
    """The graph identity a ``node`` action hands its process through ``--ros-args``."""

    name: str | None = None
    namespace: str | None = None
    params: list[tuple[str, str]] = field(default_factory=list)
    params_files: list[Path] = field(default_factory=list)
    remaps: list[tuple[str, str]] = field(default_factory=list)

    def ros_args(self) -> list[str]:
        """The ``--ros-args`` section that carries these settings (empty when there are none)."""
        args: list[str] = []
        if self.name:
            args.append(f"__node:={self.name}")
        if self.namespace:
            args.append(f"__ns:={self.namespace}")
        for path in self.params_files:
            args += ["--params-file", str(path)]
        for name, value in self.params:
            args += ["-p", f"{name}:={value}"]
        for source, target in self.remaps:
            args += ["-r", f"{source}:={target}"]
        return ["--ros-args", *args] if args else []


@dataclass
class ProcessAction:
    """One process to run (a ``node`` or an ``executable``) and how to supervise it."""

    name: str
    kind: str  # "node" or "executable"
    cmd: list[str]
    where: str
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    output: str = "screen"  # "screen" or "log"
    respawn: bool = False
    respawn_delay: float = 0.0
    required: bool = False
    node: NodeSettings | None = None


@dataclass
class LaunchPlan:
    """Everything a launch file resolved to, in start order."""

    file: Path
    args: list[ArgDecl]
    values: dict[str, str]
    processes: list[ProcessAction]
