"""Reading a launch file (ROS 2 YAML launch layout) into a ``LaunchPlan``.

Everything is checked here, before any process starts: unknown actions and keys, arguments,
substitutions, conditions, included files, and that every program can be found. A mistake
becomes one ``LaunchError`` line that says ``file:line`` and what to do.
"""

from __future__ import annotations

import importlib.machinery
import os
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simrec_node.graph.names import InvalidNameError, normalize_namespace, validate_node_name

from .actions import ArgDecl, LaunchPlan, NodeSettings, ProcessAction
from .errors import LaunchError, at
from .substitutions import SubstitutionContext, substitute
from .yaml_loader import LocatedDict, LocatedList, load_yaml

SIMREC_NODES = ("demo", "record", "serve", "play", "router")  # `exec:` values: simrec commands
_NOT_NODES = ("router",)  # `exec:` values that run no graph node: no name, parameters or remaps
_CONDITIONS = ("if", "unless")
_RESPAWN = ("respawn", "respawn_delay", "required")
_KEYS = {
    "arg": ("name", "default", "description"),
    "let": ("name", "value"),
    "node": ("exec", "module", "name", "namespace", "param", "remap", "env", "args", "output", *_RESPAWN),
    "executable": ("cmd", "args", "cwd", "env", "output", "name", *_RESPAWN),
    "group": ("namespace", "children"),
    "include": ("file", "arg"),
    "push-ros-namespace": ("namespace",),
}
_MAX_INCLUDE_DEPTH = 20


def parse_cli_args(items: list[str]) -> dict[str, str]:
    """``["envs:=4", "output:=x.mcap"]`` -> ``{"envs": "4", "output": "x.mcap"}``."""
    values = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not name:
            raise LaunchError(f"launch argument {item!r}: expected NAME:=VALUE")
        values[name] = value
    return values


def load_launch(
    path: Path, arguments: dict[str, str] | None = None, *, simrec_commands: set[str] | None = None
) -> LaunchPlan:
    """Resolve ``path`` with ``arguments`` (``name -> value``) into the processes to run.

    ``simrec_commands``, when given, are the ``simrec`` subcommands this install has: a node
    whose ``exec`` names one that is missing is an error before anything starts.
    """
    path = Path(path).resolve() if Path(path).exists() else Path(path)
    arguments = dict(arguments or {})
    state = _State(simrec_commands=simrec_commands)
    scope = _Scope(variables={}, namespace="/", file=path, given=arguments)
    _run_file(path, scope, state, where=None)
    unknown = sorted(set(arguments) - state.arg_names)
    if unknown:
        known = ", ".join(sorted(state.arg_names)) or "none"
        raise LaunchError(f"{path}: unknown argument(s) {', '.join(unknown)} (declared: {known})")
    values = {decl.name: state.values[decl.name] for decl in state.args if decl.name in state.values}
    return LaunchPlan(path, state.args, values, state.processes)


def declared_args(path: Path) -> list[ArgDecl]:
    """The ``arg`` declarations of ``path`` (and its groups), without evaluating anything."""
    data = load_yaml(Path(path))
    return _scan_args(_actions_of(data, Path(path)))


@dataclass
class _Scope:
    variables: dict[str, str]
    namespace: str
    file: Path
    given: dict[str, str]

    def context(self) -> SubstitutionContext:
        return SubstitutionContext(self.variables, self.file)

    def child(self, **changes: Any) -> _Scope:
        values = {
            "variables": dict(self.variables),
            "namespace": self.namespace,
            "file": self.file,
            "given": self.given,
        }
        values.update(changes)
        return _Scope(**values)


@dataclass
class _State:
    simrec_commands: set[str] | None
    args: list[ArgDecl] = field(default_factory=list)  # of the top file (and its groups)
    arg_names: set[str] = field(default_factory=set)  # declared anywhere (included files too)
    values: dict[str, str] = field(default_factory=dict)
    processes: list[ProcessAction] = field(default_factory=list)
    includes: list[Path] = field(default_factory=list)


def _actions_of(data: Any, path: Path) -> LocatedList:
    if not isinstance(data, LocatedDict) or "launch" not in data:
        raise LaunchError(f"{path}:1: a launch file is a mapping with a top-level 'launch:' list of actions")
    extra = [key for key in data if key != "launch"]
    if extra:
        raise LaunchError(f"{data.where(extra[0])}: unknown top-level key {extra[0]!r} (only 'launch:')")
    actions = data["launch"]
    if actions is None:
        return LocatedList()
    if not isinstance(actions, LocatedList):
        raise LaunchError(f"{data.where('launch')}: 'launch:' must be a list of actions")
    return actions


def _run_file(path: Path, scope: _Scope, state: _State, where: str | None) -> None:
    if path in state.includes or len(state.includes) >= _MAX_INCLUDE_DEPTH:
        raise at(where, f"{path} includes itself (through {' -> '.join(p.name for p in state.includes)})")
    data = load_yaml(path, where)
    actions = _actions_of(data, path)
    state.includes.append(path)
    try:
        _run_actions(actions, scope, state, top=len(state.includes) == 1)
    finally:
        state.includes.pop()


def _split(item: Any, where: str) -> tuple[str, LocatedDict, str]:
    """A list item ``{action: {...}}`` -> (action, body, where)."""
    if not isinstance(item, LocatedDict) or len(item) != 1:
        raise LaunchError(f"{where}: each action is a mapping with one key, like '- node: {{...}}'")
    kind = next(iter(item))
    body = item[kind]
    kind = "push-ros-namespace" if kind == "push_ros_namespace" else kind
    if kind not in _KEYS:
        known = ", ".join(_KEYS)
        raise LaunchError(f"{item.where(kind)}: unknown action {kind!r} (known: {known})")
    if not isinstance(body, LocatedDict):
        raise LaunchError(f"{item.where(kind)}: {kind!r} needs a mapping of settings")
    allowed = (*_KEYS[kind], *_CONDITIONS)
    for key in body:
        if key not in allowed:
            raise LaunchError(
                f"{body.where(key)}: unknown key {key!r} in {kind!r} (known: {', '.join(allowed)})"
            )
    return kind, body, item.where(kind)


def _run_actions(actions: LocatedList, scope: _Scope, state: _State, *, top: bool) -> None:
    for index, item in enumerate(actions):
        where = item.where() if isinstance(item, LocatedDict | LocatedList) else f"{actions.where()}[{index}]"
        kind, body, where = _split(item, where)
        if not _enabled(body, scope):
            continue
        if kind == "arg":
            _arg(body, scope, state, top)
        elif kind == "let":
            name = _required_text(body, "name", scope, kind)
            scope.variables[name] = _text(body, "value", scope, default="")
        elif kind == "push-ros-namespace":
            scope.namespace = _push_namespace(
                scope.namespace, _required_text(body, "namespace", scope, kind), body
            )
        elif kind == "group":
            _group(body, scope, state, top)
        elif kind == "include":
            _include(body, scope, state)
        else:
            _add_process(state, _node(body, scope, state) if kind == "node" else _executable(body, scope))


def _enabled(body: LocatedDict, scope: _Scope) -> bool:
    enabled = True
    if "if" in body:
        enabled = _flag(body, "if", scope)
    if "unless" in body:
        enabled = enabled and not _flag(body, "unless", scope)
    return enabled


def _arg(body: LocatedDict, scope: _Scope, state: _State, top: bool) -> None:
    name = _required_text(body, "name", scope, "arg")
    default = _text(body, "default", scope) if "default" in body else None
    description = _text(body, "description", scope, default="")
    state.arg_names.add(name)
    if top:
        state.args.append(ArgDecl(name, default, description, body.where()))
    if name in scope.given:
        value = scope.given[name]
    elif default is not None:
        value = default
    else:
        declared = _scan_args(_actions_of(load_yaml(scope.file), scope.file))
        listing = "; ".join(_describe(decl) for decl in declared)
        missing = [d.name for d in declared if d.required and d.name not in scope.given]
        raise LaunchError(
            f"{body.where()}: missing required argument(s) {', '.join(missing)} "
            f"(pass {missing[0]}:=VALUE); arguments: {listing}"
        )
    scope.variables[name] = value
    if top:
        state.values[name] = value


def _describe(decl: ArgDecl) -> str:
    text = f"{decl.name} (required)" if decl.required else f"{decl.name} (default {decl.default!r})"
    return f"{text}: {decl.description}" if decl.description else text


def _group(body: LocatedDict, scope: _Scope, state: _State, top: bool) -> None:
    inner = scope.child()
    if "namespace" in body:
        inner.namespace = _push_namespace(
            scope.namespace, _required_text(body, "namespace", scope, "group"), body
        )
    children = body.get("children")
    if children is None:
        return
    if not isinstance(children, LocatedList):
        raise LaunchError(f"{body.where('children')}: 'children' must be a list of actions")
    _run_actions(children, inner, state, top=top)


def _include(body: LocatedDict, scope: _Scope, state: _State) -> None:
    where = body.where("file")
    target = Path(_required_text(body, "file", scope, "include"))
    if not target.is_absolute():
        target = scope.file.parent / target
    if not target.is_file():
        raise LaunchError(f"{where}: included launch file {target} does not exist")
    given = dict(scope.variables)
    for entry in _entries(body, "arg", ("name", "value")):
        given[_required_text(entry, "name", scope, "arg")] = _text(entry, "value", scope, default="")
    inner = scope.child(variables=dict(scope.variables), file=target.resolve(), given=given)
    _run_file(target.resolve(), inner, state, where)


def _node(body: LocatedDict, scope: _Scope, state: _State) -> ProcessAction:
    exec_name = _text(body, "exec", scope) if "exec" in body else None
    module = _text(body, "module", scope) if "module" in body else None
    if (exec_name is None) == (module is None):
        raise LaunchError(f"{body.where()}: a node needs exactly one of 'exec' (a simrec node) or 'module'")
    settings = NodeSettings()
    if "name" in body:
        settings.name = _checked(validate_node_name, _text(body, "name", scope), body.where("name"))
    namespace = scope.namespace
    if "namespace" in body:
        namespace = _push_namespace(namespace, _text(body, "namespace", scope), body, key="namespace")
    settings.namespace = namespace if namespace != "/" else None
    for entry in _entries(body, "param", ("name", "value", "from")):
        if "from" in entry:
            settings.params_files.append(
                _existing_file(_text(entry, "from", scope), scope, entry.where("from"))
            )
        else:
            name = _required_text(entry, "name", scope, "param")
            if "value" not in entry:
                raise LaunchError(f"{entry.where()}: param {name!r} needs a 'value' (or use 'from: FILE')")
            settings.params.append((name, _param_text(entry["value"], scope, entry.where("value"))))
    for entry in _entries(body, "remap", ("from", "to")):
        settings.remaps.append(
            (_required_text(entry, "from", scope, "remap"), _required_text(entry, "to", scope, "remap"))
        )
    args = _args(body, scope)
    if exec_name is not None:
        _check_simrec_node(exec_name, body, state)
        cmd = [sys.executable, "-m", "simrec_node.cli.main", exec_name, *args]
        label = settings.name or exec_name
    else:
        _check_module(module, body, _env(body, scope))
        cmd = [sys.executable, "-m", module, *args]
        label = settings.name or module.rsplit(".", 1)[-1]
    process = _process_common(body, scope, label, "node", cmd + settings.ros_args())
    process.node = settings
    return process


def _executable(body: LocatedDict, scope: _Scope) -> ProcessAction:
    where = body.where("cmd")
    try:
        words = shlex.split(_required_text(body, "cmd", scope, "executable"))
    except ValueError as exc:
        raise LaunchError(f"{where}: cannot split 'cmd' into words: {exc}") from None
    if not words:
        raise LaunchError(f"{where}: 'cmd' is empty")
    cwd = None
    if "cwd" in body:
        cwd = _text(body, "cwd", scope)
        if not Path(cwd).is_dir():
            raise LaunchError(f"{body.where('cwd')}: cwd {cwd!r} is not a directory")
    env = _env(body, scope)
    program = words[0]
    if os.sep in program:
        candidate = Path(cwd or ".") / program
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            raise LaunchError(f"{where}: {program!r} is not an executable file")
    elif shutil.which(program, path=env.get("PATH", os.environ.get("PATH"))) is None:
        raise LaunchError(f"{where}: command {program!r} not found on PATH")
    process = _process_common(body, scope, Path(program).name, "executable", words + _args(body, scope))
    process.cwd = cwd
    return process


def _process_common(body: LocatedDict, scope: _Scope, label: str, kind: str, cmd: list[str]) -> ProcessAction:
    output = _text(body, "output", scope, default="screen")
    if output not in ("screen", "log"):
        raise LaunchError(f"{body.where('output')}: output must be 'screen' or 'log', got {output!r}")
    delay_text = _text(body, "respawn_delay", scope, default="0")
    try:
        delay = float(delay_text)
    except ValueError:
        delay = -1.0
    if not delay >= 0:
        raise LaunchError(
            f"{body.where('respawn_delay')}: respawn_delay must be seconds >= 0, got {delay_text!r}"
        )
    return ProcessAction(
        name=_text(body, "name", scope) if kind == "executable" and "name" in body else label,
        kind=kind,
        cmd=cmd,
        where=body.where(),
        env=_env(body, scope),
        output=output,
        respawn="respawn" in body and _flag(body, "respawn", scope),
        respawn_delay=delay,
        required="required" in body and _flag(body, "required", scope),
    )


def _add_process(state: _State, process: ProcessAction) -> None:
    """Display names are unique: a second ``demo`` becomes ``demo-2``."""
    taken = {p.name for p in state.processes}
    base, number = process.name, 1
    while process.name in taken:
        number += 1
        process.name = f"{base}-{number}"
    state.processes.append(process)


def _check_simrec_node(exec_name: str, body: LocatedDict, state: _State) -> None:
    where = body.where("exec")
    if exec_name not in SIMREC_NODES:
        raise LaunchError(
            f"{where}: unknown simrec node exec {exec_name!r} (known: {', '.join(SIMREC_NODES)}); "
            "use 'module:' for a Python node or an 'executable' action for any command"
        )
    if exec_name in _NOT_NODES:
        for key in ("name", "namespace", "param", "remap"):
            if key in body:
                raise LaunchError(
                    f"{body.where(key)}: exec {exec_name!r} runs no graph node: it takes no {key!r} "
                    "(give its options in 'args')"
                )
    if state.simrec_commands is not None and exec_name not in state.simrec_commands:
        raise LaunchError(f"{where}: exec {exec_name!r}: this simrec has no 'simrec {exec_name}' command")


def _check_module(module: str, body: LocatedDict, env: dict[str, str]) -> None:
    top = module.split(".")[0]
    paths = [
        os.getcwd(),
        *env.get("PYTHONPATH", os.environ.get("PYTHONPATH", "")).split(os.pathsep),
        *sys.path,
    ]
    if not top or importlib.machinery.PathFinder.find_spec(top, [p for p in paths if p]) is None:
        raise LaunchError(f"{body.where('module')}: Python module {module!r} not found (is it installed?)")


def _existing_file(text: str, scope: _Scope, where: str) -> Path:
    path = Path(text)
    if not path.is_absolute():
        path = scope.file.parent / path
    if not path.is_file():
        raise LaunchError(f"{where}: parameter file {path} does not exist")
    return path.resolve()


def _args(body: LocatedDict, scope: _Scope) -> list[str]:
    if "args" not in body:
        return []
    value = body["args"]
    where = body.where("args")
    if isinstance(value, LocatedList):
        return [_scalar_text(item, scope, where) for item in value]
    try:
        return shlex.split(_scalar_text(value, scope, where))
    except ValueError as exc:
        raise LaunchError(f"{where}: cannot split 'args' into words: {exc}") from None


def _env(body: LocatedDict, scope: _Scope) -> dict[str, str]:
    return {
        _required_text(entry, "name", scope, "env"): _text(entry, "value", scope, default="")
        for entry in _entries(body, "env", ("name", "value"))
    }


def _entries(body: LocatedDict, key: str, allowed: tuple[str, ...]) -> list[LocatedDict]:
    """A list of small mappings (``param``, ``remap``, ``env``, ``arg``), each key checked."""
    if key not in body:
        return []
    value = body[key]
    if not isinstance(value, LocatedList):
        raise LaunchError(f"{body.where(key)}: {key!r} must be a list of mappings")
    for entry in value:
        if not isinstance(entry, LocatedDict):
            raise LaunchError(f"{value.where()}: each {key!r} entry is a mapping ({', '.join(allowed)})")
        for name in entry:
            if name not in allowed:
                raise LaunchError(
                    f"{entry.where(name)}: unknown key {name!r} in {key!r} (known: {', '.join(allowed)})"
                )
    return list(value)


def _push_namespace(current: str, pushed: str, body: LocatedDict, key: str = "namespace") -> str:
    """ROS 2 ``push-ros-namespace``: relative names nest, absolute ones replace."""
    combined = pushed if pushed.startswith("/") else current.rstrip("/") + "/" + pushed
    return _checked(normalize_namespace, combined, body.where(key))


def _checked(check, value: str, where: str) -> str:
    try:
        return check(value)
    except InvalidNameError as exc:
        raise LaunchError(f"{where}: {exc}") from None


def _flag(body: LocatedDict, key: str, scope: _Scope) -> bool:
    text = _text(body, key, scope).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise LaunchError(
        f"{body.where(key)}: {key!r} must be true, false, 1 or 0 (after substitution), got {text!r}"
    )


def _required_text(body: LocatedDict, key: str, scope: _Scope, kind: str) -> str:
    if key not in body:
        raise LaunchError(f"{body.where()}: {kind!r} needs {key!r}")
    return _text(body, key, scope)


def _text(body: LocatedDict, key: str, scope: _Scope, default: str | None = None) -> str:
    if key not in body:
        if default is None:
            raise LaunchError(f"{body.where()}: missing {key!r}")
        return default
    return _scalar_text(body[key], scope, body.where(key))


def _scalar_text(value: Any, scope: _Scope, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return substitute(value, scope.context(), where)
    if value is None:
        return ""
    raise LaunchError(
        f"{where}: expected a single value, got a {type(value).__name__.replace('Located', '')}"
    )


def _param_text(value: Any, scope: _Scope, where: str) -> str:
    """A parameter value as ``-p`` text; lists travel as a YAML flow list."""
    if isinstance(value, list):
        items = [
            yaml.safe_load(_scalar_text(item, scope, where)) if isinstance(item, str) else item
            for item in value
        ]
        return yaml.safe_dump(list(items), default_flow_style=True).strip()
    return _scalar_text(value, scope, where)


def _scan_args(actions: LocatedList) -> list[ArgDecl]:
    """``arg`` declarations found without evaluating (for --show-args and error listings)."""
    found = []
    for item in actions:
        if not isinstance(item, LocatedDict) or len(item) != 1:
            continue
        kind, body = next(iter(item.items()))
        if kind == "arg" and isinstance(body, LocatedDict) and "name" in body:
            default = body.get("default")
            found.append(
                ArgDecl(
                    str(body["name"]),
                    None if default is None else _raw(default),
                    str(body.get("description", "")),
                    body.where(),
                )
            )
        elif kind == "group":
            children = body.get("children") if isinstance(body, LocatedDict) else None
            if isinstance(children, LocatedList):
                found += _scan_args(children)
    return found


def _raw(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
