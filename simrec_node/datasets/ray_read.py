"""``read_ray(paths, topics=..., rows=...)``: recorded logs as a Ray Dataset of decoded columns.

Why a datasource over simrec's reader rather than ``ray.data.read_mcap``: ``read_mcap`` yields
one row per message holding the raw payload bytes (JSON is its only decoding) and builds each
row as a Python dict; its pushdown (topics, a log-time window, schema names) is what simrec's
reader already does from the MCAP index. What users of these logs need is the decoding
(protobuf, ``simrec.Tensor``/``StateBatch`` tensors into fixed-shape arrays) and rows per episode
or per file rather than per message: those are simrec's, so each read task runs simrec's reader
(bulk tensor decode, damage tolerance, split directories) on one log.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from simrec_node.logs import each_recording

from .errors import DatasetError
from .ray_local import import_ray, start_ray
from .rows import check_rows, log_topics

PathLike = str | os.PathLike[str]


def read_ray(
    paths: PathLike | Iterable[PathLike],
    topics: str | Sequence[str] | None = None,
    rows: str = "message",
    **read_args: Any,
) -> Any:
    """A ``ray.data.Dataset`` of the logs at ``paths`` (files or split directories, one read task
    each, in order; a folder of separate runs gives each of its files): ``rows="message"`` (one
    topic), ``"episode"`` (one topic) or ``"file"``; see ``datasets/rows.py`` for the columns.
    ``topics``: a topic or a list (default: every numeric topic). ``read_args`` go to
    ``ray.data.read_datasource`` (``concurrency``, ...).

    Starts a local Ray on loopback where none is running (``ray.init(address=...)`` first to use a
    cluster). The logs are checked here, before any task runs: a missing log or topic is one
    ``DatasetError`` line.

    >>> ds = read_ray(["a.mcap", "b.mcap"], topics="/sim/state", rows="episode")
    >>> for batch in ds.iter_batches(batch_size=None, batch_format="numpy"): ...
    """
    check_rows(rows)
    logs = each_recording(paths)  # a folder of runs: each run its own read task
    if not logs:
        raise DatasetError("read_ray needs at least one log")
    wanted = [topics] if isinstance(topics, str) else topics
    checked = [(os.fspath(p), log_topics(p, wanted, rows)) for p in logs]
    start_ray()  # first: it sets what keeps a local Ray on loopback before Ray is imported
    ray = import_ray(data=True)

    from .ray_source import SimrecLogDatasource

    return ray.data.read_datasource(SimrecLogDatasource(checked, rows), **read_args)
