"""Torch datasets over recorded logs (torch is optional: this module is imported on first use).

``StateBatchDataset`` is map-style: item ``i`` is one step (one StateBatch message) of one of
the logs, as a dict of tensors ``[N, ...]`` plus ``step`` and ``sim_time``; the arrays are
read once per log with the same flattening as the NPZ converter. ``LogIterableDataset``
streams messages of any topics without loading a log into memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

try:
    import torch
    from torch.utils.data import Dataset, IterableDataset
except ImportError as exc:  # the CLI and the NPZ/MP4 converters work without torch
    raise ImportError("simrec's torch datasets need PyTorch: pip install torch") from exc

from simrec_node.logs import each_recording

from .collect import collect
from .errors import ConvertError
from .fields import flatten
from .reader import LogReader, open_log

PathLike = str | os.PathLike[str]


def _as_tensor(value: Any) -> Any:
    """A tensor owning a copy of ``value``; objects (strings, ragged lists) pass through."""
    array = np.asarray(value)
    if array.dtype == object or array.dtype.kind in "SU":
        return value
    return torch.from_numpy(np.array(array, copy=True))


def _state_topic(reader: LogReader, topic: str | None) -> str:
    if topic is not None:
        return reader.resolve_topics([topic])[0]
    found = [t for t, info in reader.topics.items() if info.type_name == "simrec.StateBatch"]
    if len(found) != 1:
        raise ConvertError(
            f"{reader.path} has {len(found)} StateBatch topics ({', '.join(found) or 'none'}): pass topic="
        )
    return found[0]


class StateBatchDataset(Dataset):
    """Map-style dataset: one item per recorded step of a StateBatch topic, over one or many logs.

    Items are ``{"tensors.qpos": Tensor[N, 2], ..., "step": Tensor[], "sim_time": Tensor[],
    "log_time": Tensor[]}`` (keys as in the NPZ, without the topic).
    """

    def __init__(self, paths: PathLike | Iterable[PathLike], topic: str | None = None) -> None:
        self._logs: list[dict[str, np.ndarray]] = []
        for path in each_recording(paths):
            reader = open_log(path)
            name = _state_topic(reader, topic)
            self._logs.append(collect(reader, [name]).tables[name].arrays())
        self._offsets = np.cumsum([0] + [len(a["log_time"]) for a in self._logs])

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def __getitem__(self, index: int) -> dict[str, Any]:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} steps")
        log = int(np.searchsorted(self._offsets, index, side="right")) - 1
        row = index - int(self._offsets[log])
        return {k: _as_tensor(v[row]) for k, v in self._logs[log].items()}


class LogIterableDataset(IterableDataset):
    """Iterable dataset streaming ``{"topic", "log_time", <field path>: Tensor, ...}`` per message."""

    def __init__(
        self,
        paths: PathLike | Iterable[PathLike],
        topics: Iterable[str] | None = None,
        start: float | None = None,
        end: float | None = None,
    ) -> None:
        self.paths = each_recording(paths)
        self.topics = list(topics) if topics is not None else None
        self.start, self.end = start, end

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for path in self.paths:
            reader = open_log(path)
            topics = self.topics if self.topics is not None else reader.numeric_topics
            for topic, log_time, message in reader.iter(topics, self.start, self.end):
                values: dict[str, Any] = {}
                flatten(message, values, {})
                item = {k: _as_tensor(v) for k, v in values.items()}
                item["topic"], item["log_time"] = topic, log_time
                yield item
