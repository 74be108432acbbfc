"""Node parameters, declared with defaults and overridden from outside (launch files, CLI)."""

from __future__ import annotations

import threading
from typing import Any

from simrec_node.errors import SimrecError

ParameterValue = bool | int | float | str | list


class ParameterError(SimrecError, ValueError):
    """A parameter that was not declared, or a value of the wrong type."""


class Parameters:
    """ROS 2-style parameters: declare before use; overrides win over defaults.

    A value keeps the type of its default (an int default accepts an int override, a float
    default accepts ints too), so a typo in a launch file fails at start, not mid-run.
    """

    def __init__(self, overrides: dict[str, ParameterValue] | None = None) -> None:
        self._overrides = dict(overrides or {})
        self._values: dict[str, ParameterValue] = {}
        self._lock = threading.Lock()

    def declare(self, name: str, default: ParameterValue) -> ParameterValue:
        with self._lock:
            value = self._overrides.get(name, default)
            self._values[name] = _coerce(name, value, default)
            return self._values[name]

    def get(self, name: str) -> ParameterValue:
        try:
            return self._values[name]
        except KeyError:
            raise ParameterError(f"parameter {name!r} was not declared") from None

    def set(self, name: str, value: ParameterValue) -> None:
        with self._lock:
            if name not in self._values:
                raise ParameterError(f"parameter {name!r} was not declared")
            self._values[name] = _coerce(name, value, self._values[name])

    def as_dict(self) -> dict[str, ParameterValue]:
        return dict(self._values)

    def undeclared_overrides(self) -> list[str]:
        """Overrides given for names nobody declared: usually a typo worth reporting."""
        return sorted(set(self._overrides) - set(self._values))


def _coerce(name: str, value: Any, default: Any) -> ParameterValue:
    if default is None or (
        isinstance(value, type(default)) and not (isinstance(value, bool) and not isinstance(default, bool))
    ):
        return value
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        return _parse_text(name, value, default)
    raise ParameterError(
        f"parameter {name!r} expects {type(default).__name__}, got {type(value).__name__} {value!r}"
    )


def _parse_text(name: str, text: str, default: Any) -> ParameterValue:
    """Overrides typed on a command line arrive as text: read them as the default's type."""
    try:
        if isinstance(default, bool):
            if text.lower() in ("true", "1", "yes", "on"):
                return True
            if text.lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError(text)
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        pass
    raise ParameterError(f"parameter {name!r} expects {type(default).__name__}, got {text!r}")
