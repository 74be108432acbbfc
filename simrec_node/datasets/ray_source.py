"""The Ray Data datasource over simrec's own log reader: one read task per log, no shuffle.

Imported only by ``read_ray`` (it imports Ray). Each task opens its log on the worker, decodes
the selected topics in bulk (``rows.read_log``) and returns one Arrow block; tensor fields
become Ray's tensor columns (fixed-shape per message, variable-shaped per episode or file).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

from ray.data.block import BlockAccessor, BlockMetadata
from ray.data.datasource import Datasource, ReadTask

from .rows import read_log


def _read(path: str, topics: Sequence[str], rows: str) -> list:
    return [BlockAccessor.batch_to_block(read_log(path, topics, rows))]


class SimrecLogDatasource(Datasource):
    """Logs (files or split directories) read by simrec's reader, one read task per log."""

    def __init__(self, logs: Sequence[tuple[str, Sequence[str]]], rows: str) -> None:
        super().__init__()
        self.logs = list(logs)  # (path, topics) per log, checked by the caller
        self.rows = rows

    def get_name(self) -> str:
        return "SimrecLog"

    def estimate_inmemory_data_size(self) -> int | None:
        return sum(_size(path) for path, _ in self.logs)

    def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None, **_: object) -> list:
        tasks = []
        for path, topics in self.logs:  # one per log whatever ``parallelism``: a log is read whole
            meta = BlockMetadata(num_rows=None, size_bytes=_size(path), exec_stats=None, input_files=[path])
            read = functools.partial(_read, path, list(topics), self.rows)
            tasks.append(ReadTask(read, meta, per_task_row_limit=per_task_row_limit))
        return tasks


def _size(path: str) -> int:
    if os.path.isdir(path):
        return sum(e.stat().st_size for e in os.scandir(path) if e.is_file())
    return os.path.getsize(path)
