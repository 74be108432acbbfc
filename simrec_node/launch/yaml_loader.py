"""YAML that remembers where each mapping, list and key came from, for ``file:line`` errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import LaunchError


class LocatedDict(dict):
    """A mapping with the file and line it starts on, and the line of each key."""

    file: str = ""
    line: int = 0
    key_lines: dict[Any, int]

    def where(self, key: Any = None) -> str:
        return f"{self.file}:{self.key_lines.get(key, self.line) if key is not None else self.line}"


class LocatedList(list):
    """A list with the file and line it starts on."""

    file: str = ""
    line: int = 0

    def where(self) -> str:
        return f"{self.file}:{self.line}"


def _loader_for(file: str) -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LocatedDict:
        result = LocatedDict()
        result.file, result.line, result.key_lines = file, node.start_mark.line + 1, {}
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in result:
                raise LaunchError(f"{file}:{key_node.start_mark.line + 1}: key {key!r} appears twice")
            result[key] = loader.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LocatedList:
        result = LocatedList(loader.construct_object(child, deep=True) for child in node.value)
        result.file, result.line = file, node.start_mark.line + 1
        return result

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, sequence)
    return Loader


def load_yaml(path: Path, where: str | None = None) -> Any:
    """Parse ``path``; a missing file or a syntax error becomes one ``LaunchError`` line."""
    prefix = f"{where}: " if where else ""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LaunchError(
            f"{prefix}{path} is not a launch file: byte {exc.start} is not UTF-8 text (a launch file "
            "is YAML text, like launch/demo.launch.yaml)"
        ) from None
    except FileNotFoundError:
        raise LaunchError(f"{prefix}launch file {path} does not exist") from None
    except OSError as exc:
        raise LaunchError(f"{prefix}cannot read launch file {path}: {exc.strerror}") from None
    try:
        return yaml.load(text, Loader=_loader_for(str(path)))  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        location = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = exc.problem or exc.context or "invalid YAML"
        raise LaunchError(f"{location}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise LaunchError(f"{path}: YAML syntax error: {exc}") from None
