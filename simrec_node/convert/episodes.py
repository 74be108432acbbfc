"""Episodes in converted arrays: an index per step from a done flag, and one group of arrays per
episode split at the recorded episode ends.

A topic carries episode ends when it has one of ``DONE_FIELDS`` (StateBatch tensors
``done``/``terminated``/``truncated`` [T, N], Scalars values, or plain fields). The step that has done=True
is the last step of its episode. ``episode_index`` [T] or [T, N] counts, per environment,
the episodes that ended before each step; a topic that records its own ``episode_index`` (the
``simrec.Episode`` channel) keeps it.

Splitting uses the episodes the log records (``simrec.Episode`` messages, whatever topics are
converted), else a done field: a row belongs to the first episode whose end time (on the
conversion's time axis) is at or after its own time.
"""

from __future__ import annotations

import itertools

import numpy as np

from simrec_node.info.episodes import EPISODE_TYPE

__all__ = [
    "DONE_FIELDS",
    "EPISODE_TYPE",
    "add_episode_index",
    "episode_ends",
    "episode_index",
    "prefix",
    "split_rows",
]

DONE_FIELDS = (
    "tensors.done",
    "tensors.terminated",
    "tensors.truncated",
    "values.done",
    "values.terminated",
    "values.truncated",
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


def add_episode_index(arrays: dict[str, np.ndarray], type_name: str) -> np.ndarray | None:
    """Give a topic with a done field its ``episode_index`` (never replacing a recorded one, and
    never on the ``simrec.Episode`` channel, whose fields are the record); its ends, or None."""
    if type_name == EPISODE_TYPE:
        return None
    ends = episode_ends(arrays)
    if ends is not None and "episode_index" not in arrays:
        arrays["episode_index"] = episode_index(ends)
    return ends


def split_rows(times: np.ndarray, ends: np.ndarray) -> list[slice]:
    """Row ranges of a topic (rows sorted by ``times``) in each episode ending at ``ends`` (sorted),
    plus one for the rows after the last end: a row at an end's time belongs to that episode."""
    cuts = [0, *np.searchsorted(times, ends, side="right").tolist(), len(times)]
    return [slice(a, b) for a, b in itertools.pairwise(cuts)]


def prefix(index: int) -> str:
    return f"episode_{index:03d}"
