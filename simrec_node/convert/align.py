"""Resampling every topic onto one time base, so arrays line up row for row.

``hold`` takes, for each target time, the last message at or before it (what a controller
saw); ``nearest`` the message closest in time. Rows before a topic's first message repeat
that first message and are marked False in ``valid``. Episode-end flags are never held or
duplicated: an aligned row is done when any source message since the previous row was.
"""

from __future__ import annotations

import numpy as np

from .episodes import DONE_FIELDS

MODES = ("hold", "nearest")


def source_rows(times: np.ndarray, target: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """For each target time, the source row to use and whether such a row exists."""
    if len(times) == 0:
        return np.zeros(len(target), dtype=np.int64), np.zeros(len(target), dtype=bool)
    held = np.searchsorted(times, target, side="right") - 1
    valid = held >= 0
    rows = held
    if mode == "nearest":
        after = np.minimum(held + 1, len(times) - 1)
        before = np.maximum(held, 0)
        use_after = (held < 0) | ((times[after] - target) < (target - times[before]))
        rows = np.where(use_after, after, before)
        valid = np.ones(len(target), dtype=bool)
    return np.maximum(rows, 0), valid


def _any_since_previous(flags: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Row m is True when any source row in (held[m-1], held[m]] is True."""
    counts = np.cumsum(flags.astype(np.int64), axis=0)
    at = counts[np.maximum(held, 0)]
    at[held < 0] = 0
    before = np.concatenate([np.zeros_like(at[:1]), at[:-1]])
    return (at - before) > 0


def align_topic(
    arrays: dict[str, np.ndarray], target: np.ndarray, mode: str, time_key: str = "log_time"
) -> dict[str, np.ndarray]:
    """One topic's arrays resampled at ``target`` times (of its ``time_key`` column), plus its
    ``valid`` mask."""
    times = arrays[time_key]
    rows, valid = source_rows(times, target, mode)
    held = np.searchsorted(times, target, side="right") - 1
    out = {}
    for key, value in arrays.items():
        if key in DONE_FIELDS and len(value):
            out[key] = _any_since_previous(value, held)
        else:
            out[key] = value[rows] if len(value) else value
    out["valid"] = valid
    return out


def time_base(
    tables: dict[str, dict[str, np.ndarray]], align: str | None, hz: float | None, time_key: str = "log_time"
) -> np.ndarray:
    """The target times (``time_key``: log or publish times): the align topic's message times,
    or a grid at ``hz``."""
    if align is not None:
        return tables[align][time_key]
    starts = [t[time_key][0] for t in tables.values() if len(t[time_key])]
    ends = [t[time_key][-1] for t in tables.values() if len(t[time_key])]
    if not starts:
        return np.zeros(0, dtype=np.int64)
    step = 1e9 / hz
    count = int((max(ends) - min(starts)) // step) + 1
    return min(starts) + np.round(np.arange(count) * step).astype(np.int64)
