"""One log's rows as numpy columns, in numpy only: what each Ray read task returns for its file.

Three kinds of rows (``ROWS``):

- ``"message"``: one row per message of one topic: its fields (a tensor field is a fixed-shape
  array per row), ``log_time`` / ``publish_time`` (int64 ns) and ``episode_index`` where the
  topic carries episode ends, as the NPZ and Parquet converters give them (``build_arrays``).
- ``"episode"``: one row per episode of one env of one topic: every field as an array of the
  episode's frames ``[L, ...]``, ``timestamp`` (seconds since the episode began), ``length``,
  ``env_index`` and ``episode_index`` (numbered within the log as ``EpisodeDataset`` numbers
  them: env by env, episode by episode; see ``convert/windows.py``).
- ``"file"``: one row per log: each field of each topic whole, ``[T, ...]``; with several topics
  the columns are named ``<topic>/<field>`` (the NPZ's keys).

Every row has ``path`` (the log). Fields that make no numeric array (strings, ragged) are left
out, as in NPZ and Parquet.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from simrec_node.convert import NpzOptions, build_arrays, open_log
from simrec_node.convert.windows import build_samples

from .errors import DatasetError

ROWS = ("message", "episode", "file")
PathLike = str | os.PathLike[str]


def check_rows(rows: str) -> None:
    if rows not in ROWS:
        raise DatasetError(f"rows={rows!r}: choose one of {', '.join(repr(r) for r in ROWS)}")


def log_topics(path: PathLike, topics: Sequence[str] | None, rows: str) -> list[str]:
    """The topics of one log a read converts (checked before any task runs: one clear line)."""
    with open_log(path) as reader:
        names = reader.resolve_topics(list(topics)) if topics else reader.numeric_topics
        if not names:
            raise DatasetError(f"{reader.path} has no numeric topic; {reader.describe_topics()}")
        if rows != "file" and len(names) != 1:
            raise DatasetError(
                f"rows={rows!r} reads one topic and {reader.path} has {len(names)} "
                f"({', '.join(names)}): pass topics='/one/topic', or rows='file'"
            )
    return names


def _object_column(values: list[np.ndarray]) -> np.ndarray:
    """One array per row (shapes may differ: Ray makes it a variable-shaped tensor column)."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


def read_log(path: PathLike, topics: Sequence[str], rows: str) -> dict[str, np.ndarray]:
    """The columns of one log's rows (see the module docstring); numpy only, no Ray."""
    with open_log(path) as reader:
        arrays = build_arrays(reader, NpzOptions(topics=tuple(topics))).arrays
        name = str(reader.path)
    arrays = {k: v for k, v in arrays.items() if v.dtype != object}
    if rows == "file":
        if len(topics) == 1:
            head = topics[0] + "/"
            arrays = {k.removeprefix(head): v for k, v in arrays.items()}
        out = {k: _object_column([v]) for k, v in arrays.items()}
        out["path"] = np.array([name])
        return out
    head = topics[0] + "/"
    fields = {k[len(head) :]: v for k, v in arrays.items() if k.startswith(head)}
    if rows == "message":
        fields["path"] = np.full(len(fields["log_time"]), name)
        return fields
    samples = build_samples([fields])
    starts = samples.episode_starts
    bounds = list(zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True))
    out = {k: _object_column([v[a:b] for a, b in bounds]) for k, v in samples.data.items()}
    out["timestamp"] = _object_column([samples.time[a:b] for a, b in bounds])
    out["episode_index"] = np.arange(len(bounds), dtype=np.int64)
    out["env_index"] = samples.env[starts[:-1]]
    out["length"] = np.diff(starts)
    out["path"] = np.full(len(bounds), name)
    return out
