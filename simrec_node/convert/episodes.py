"""Episodes from a done flag: an index per step, or one group of arrays per episode.

A topic carries episode ends when it has one of ``DONE_FIELDS`` (StateBatch tensors
``done``/``terminated``/``truncated`` [T, N], or plain fields). The step that has done=True
is the last step of its episode. ``episode_index`` [T] or [T, N] counts, per environment,
the episodes that ended before each step.
"""

from __future__ import annotations

import itertools

import numpy as np

DONE_FIELDS = (
    "tensors.done",
    "tensors.terminated",
    "tensors.truncated",
    "done",
    "terminated",
    "truncated",
)


def episode_ends(arrays: dict[str, np.ndarray]) -> np.ndarray | None:
    """The OR of a topic's done fields as bool [T] or [T, N]; None when it has none."""
    found = [arrays[k].astype(bool) for k in DONE_FIELDS if k in arrays and arrays[k].dtype != object]
    if not found or any(f.shape != found[0].shape for f in found):
        return None
    return np.logical_or.reduce(found) if len(found) > 1 else found[0]


def episode_index(ends: np.ndarray) -> np.ndarray:
    """Per step (and env), how many episodes ended before it: 0 for the first episode."""
    flags = ends.astype(np.int32)
    return np.cumsum(flags, axis=0, dtype=np.int32) - flags


def split_times(ends: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Start times of episodes 1..K (each the time of the step after a done), for one env."""
    flat = ends.reshape(len(ends), -1)[:, 0]
    after = np.flatnonzero(flat) + 1
    after = after[after < len(times)]
    return times[after]


def split_rows(times: np.ndarray, starts: np.ndarray) -> list[slice]:
    """Row ranges of a topic (by its log times) that fall in each episode."""
    cuts = [0, *np.searchsorted(times, starts, side="left").tolist(), len(times)]
    return [slice(a, b) for a, b in itertools.pairwise(cuts)]


def prefix(index: int) -> str:
    return f"episode_{index:03d}"
