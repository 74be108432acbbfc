"""NPZ key styles: ``full`` (``/robot/state/tensors.position``, the field path as ``fields``
names it) and ``short`` (``robot/state/position``), readable without knowing the message type.

Short keys drop the topic's leading ``/`` and the part of the path that only says how simrec
carried the value: a ``simrec.StateBatch`` tensor ``tensors.<name>`` -> ``<name>``, a
``simrec.Scalars`` value ``values.<name>`` -> ``<name>``, a ``simrec.Tensor``'s ``data`` -> the
topic itself (``sim/reward``). Other fields keep their path (``episodes/episode_return``), as do
``log_time``, ``publish_time``, ``step``, ... Two keys that would become one are an error naming
both, never an overwrite.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import ConvertError

__all__ = ["KEY_STYLES", "check_unique", "key_names", "short_field"]

KEY_STYLES = ("full", "short")

_CARRIER_PREFIX = {"simrec.StateBatch": "tensors.", "simrec.Scalars": "values."}


def short_field(type_name: str, field: str) -> str:
    """``field``'s short name on a topic of ``type_name`` ("" for a ``simrec.Tensor``'s data)."""
    if type_name == "simrec.Tensor" and field == "data":
        return ""
    prefix = _CARRIER_PREFIX.get(type_name)
    if prefix is not None and field.startswith(prefix):
        return field[len(prefix) :]
    return field


def key_names(topic: str, type_name: str, fields: Iterable[str], style: str = "full") -> dict[str, str]:
    """field -> the key it gets in ``style`` (``topic/field``, or the short key)."""
    if style not in KEY_STYLES:
        raise ConvertError(f"--keys must be one of {', '.join(KEY_STYLES)}, not {style!r}")
    if style == "full":
        return {field: f"{topic}/{field}" for field in fields}
    base = topic.strip("/")
    out = {}
    for field in fields:
        short = short_field(type_name, field)
        out[field] = f"{base}/{short}" if base and short else base or short
    return out


def check_unique(names: dict[str, str]) -> None:
    """Raise when two full keys (``names``: full -> short) share a short key."""
    seen: dict[str, str] = {}
    for full, short in names.items():
        other = seen.setdefault(short, full)
        if other != full:
            raise ConvertError(
                f"short keys collide: {other} and {full} both become {short!r}; "
                'use --keys full (keys="full"), or record them under different names'
            )
