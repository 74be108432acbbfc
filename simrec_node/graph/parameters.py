"""Node parameters, declared with defaults and overridden from outside (launch files, CLI)."""

from __future__ import annotations

import threading
from collections.abc import Callable
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
        self._lock = threading.RLock()  # an on-set callback may read or declare parameters
        self._on_set: list[Callable[[dict[str, ParameterValue]], None]] = []

    def add_on_set_callback(self, callback: Callable[[dict[str, ParameterValue]], None]) -> None:
        """Call ``callback(changed)`` before values set from outside (``set``, ``set_many``) take
        effect; a ``ParameterError`` it raises refuses the whole set."""
        self._on_set.append(callback)

    def set_many(self, values: dict[str, Any]) -> dict[str, ParameterValue]:
        """Set several declared parameters at once, all or none; the values as set."""
        with self._lock:
            changed = {}
            for name, value in values.items():
                if name not in self._values:
                    raise ParameterError(f"parameter {name!r} was not declared")
                changed[name] = _coerce(name, value, self._values[name])
            for callback in self._on_set:
                callback(dict(changed))
            self._values.update(changed)
            return changed

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
        self.set_many({name: value})

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
