"""``--ros-args``: how a launcher (or a user) hands a node its name, namespace, parameters and remaps.

One convention for every simrec node process, the one ROS 2 uses, so habits and launch files
carry over::

    simrec demo --envs 4 --ros-args __node:=sim __ns:=/robot1 -p num_envs:=8 \\
        --params-file params.yaml -r sim/state:=/robot/state

Everything after ``--ros-args`` up to a lone ``--`` (or the end) belongs to the node; the rest
of the command line is the program's own (``rest_argv``). Later settings win over earlier ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simrec_node.errors import SimrecError

from .names import resolve_topic
from .node import Node
from .parameters import ParameterValue

ROS_ARGS = "--ros-args"
_END = "--"
_WILDCARD_KEYS = ("/**", "**")


class NodeArgsError(SimrecError, ValueError):
    """A malformed ``--ros-args`` section (or a params file that cannot be read)."""


@dataclass
class NodeArgs:
    """What ``--ros-args`` said; ``None`` means "the node's own default"."""

    name: str | None = None
    namespace: str | None = None
    parameter_overrides: dict[str, ParameterValue] = field(default_factory=dict)
    remaps: dict[str, str] = field(default_factory=dict)
    rest_argv: list[str] = field(default_factory=list)
    params_files: list[Path] = field(default_factory=list)

    @property
    def given(self) -> bool:
        """True when the command line had a ``--ros-args`` section that set anything."""
        return bool(self.name or self.namespace or self.parameter_overrides or self.remaps)

    def remap_topic(self, topic: str, default_name: str, default_namespace: str = "/") -> str:
        """The absolute name ``topic`` stands for in a node started with these args."""
        name = self.name or default_name
        namespace = self.namespace or default_namespace
        remaps = {
            resolve_topic(a, namespace, name): resolve_topic(b, namespace, name)
            for a, b in self.remaps.items()
        }
        resolved = resolve_topic(topic, namespace, name)
        return remaps.get(resolved, resolved)

    def node(self, default_name: str, default_namespace: str = "/", *, domain: str | None = None) -> Node:
        """A ``Node`` named, placed, parameterised and remapped as the command line asked."""
        return Node(
            self.name or default_name,
            self.namespace or default_namespace,
            domain=domain,
            parameter_overrides=self.parameter_overrides,
            remaps=self.remaps,
        )


def parse_node_args(argv: list[str], default_name: str | None = None) -> NodeArgs:
    """Split ``argv`` into the program's own arguments and the ``--ros-args`` sections.

    ``default_name`` picks the section of a ROS 2-layout params file
    (``<node>: {ros__parameters: ...}``) when no ``__node:=`` renames the node.
    Raises ``NodeArgsError`` for a malformed section.
    """
    result = NodeArgs()
    entries: list[tuple[str, Any]] = []  # ("p", (name, text)) or ("file", path), in order
    inside = False
    items = iter(argv)
    for item in items:
        if item == ROS_ARGS:
            inside = True
        elif not inside:
            result.rest_argv.append(item)
        elif item == _END:
            inside = False
        elif item in ("-p", "--param"):
            entries.append(("p", _pair(_next(items, item), "-p NAME:=VALUE")))
        elif item in ("-r", "--remap"):
            _remap(result, _pair(_next(items, item), "-r FROM:=TO"))
        elif item == "--params-file":
            entries.append(("file", Path(_next(items, item))))
        elif item.startswith("__"):
            _remap(result, _pair(item, "__node:=NAME or __ns:=/NAMESPACE"))
        else:
            raise NodeArgsError(
                f"--ros-args: unexpected {item!r}; use -p NAME:=VALUE, -r FROM:=TO, --params-file FILE, "
                "__node:=NAME, __ns:=/NS (end the section with --)"
            )
    node_name = result.name or default_name
    for kind, entry in entries:
        if kind == "p":
            result.parameter_overrides[entry[0]] = _parameter_value(entry[1])
        else:
            result.params_files.append(entry)
            result.parameter_overrides.update(_read_params_file(entry, node_name, result.namespace))
    return result


def _next(items, option: str) -> str:
    try:
        return next(items)
    except StopIteration:
        raise NodeArgsError(f"--ros-args: {option} needs a value") from None


def _pair(text: str, usage: str) -> tuple[str, str]:
    name, sep, value = text.partition(":=")
    if not sep or not name:
        raise NodeArgsError(f"--ros-args: expected {usage}, got {text!r}")
    return name, value


def _remap(result: NodeArgs, pair: tuple[str, str]) -> None:
    source, target = pair
    if source == "__node":
        result.name = target
    elif source == "__ns":
        result.namespace = target
    elif source.startswith("__"):
        raise NodeArgsError(f"--ros-args: unknown special name {source!r} (known: __node, __ns)")
    else:
        result.remaps[source] = target


def _parameter_value(text: str) -> ParameterValue:
    """Text stays text (the node reads it as its default's type); ``[...]`` is a YAML list."""
    if text.startswith("["):
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise NodeArgsError(f"--ros-args: parameter value {text!r} is not a valid list") from None
        if isinstance(value, list):
            return value
    return text


def _read_params_file(path: Path, node_name: str | None, namespace: str | None) -> dict[str, ParameterValue]:
    """A flat ``name: value`` mapping, or ROS 2's ``<node or /**>: {ros__parameters: {...}}``."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise NodeArgsError(f"--params-file {path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise NodeArgsError(f"--params-file {where}: not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise NodeArgsError(f"--params-file {path}: expected a mapping of parameter names to values")
    sections = {
        key: value for key, value in data.items() if isinstance(value, dict) and "ros__parameters" in value
    }
    if not sections:
        return dict(data)
    names = {*_WILDCARD_KEYS}
    if node_name:
        ns = "/" + (namespace or "").strip("/")
        names |= {node_name, "/" + node_name, ns.rstrip("/") + "/" + node_name}
    values: dict[str, ParameterValue] = {}
    for key, section in sections.items():
        if key in names:
            values.update(section["ros__parameters"] or {})
    return values
