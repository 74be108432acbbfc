"""Torch datasets of episode frames with windows, over one topic of one or many logs.

``EpisodeDataset`` is map-style: item ``i`` is one step of one env (a *frame*), with its fields
(``tensors.qpos`` of ``[N, 2]`` per step gives ``[2]`` per frame), ``episode_index`` (numbered
across every log and env), ``frame_index`` (position in the episode), ``env_index``,
``timestamp`` (seconds since the episode began) and ``index``. ``windows={key: [offsets in s]}``
(LeRobot's ``delta_timestamps``) turns ``key`` into ``[W, ...]`` frames of the same episode with
``<key>_is_pad`` ``[W]`` (see ``windows.py``). A list of indexes gives their batch in one gather
per key; ``dataset.loader(batch_size, ...)`` asks for batches that way (the fast path), and its
workers hand them back through shared memory (``batch_ring.py``), not pickled tensors. A plain
``DataLoader(data, batch_size=...)`` gets each batch from ``__getitems__`` (one gather), then
collates it as usual. A ``DataLoader`` with workers splits the dataset by index, as for any
map-style dataset; ``EpisodeStream`` instead gives each worker whole episodes.

The fields are read once per log with ``build_arrays``, so values, ``episode_index`` and names are
the NPZ converter's. torch is optional: this module is imported on first use.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

try:
    import torch
    from torch.utils.data import Dataset, IterableDataset, get_worker_info
except ImportError as exc:  # the CLI and the converters work without torch
    raise ImportError("simrec's torch datasets need PyTorch: pip install torch") from exc

from simrec_node.logs import each_recording

from .batch_ring import BatchLoader
from .dataset import _state_topic
from .errors import ConvertError
from .npz import NpzOptions, build_arrays
from .reader import open_log
from .windows import build_samples, window_rows

PathLike = str | os.PathLike[str]


def read_topic(path: PathLike, topic: str | None = None) -> dict[str, np.ndarray]:
    """One topic's arrays from a log (default: its only StateBatch topic), with ``episode_index``."""
    reader = open_log(path)
    name = _state_topic(reader, topic)
    arrays = build_arrays(reader, NpzOptions(topics=(name,))).arrays
    head = name + "/"
    return {k[len(head) :]: v for k, v in arrays.items() if k.startswith(head)}


class EpisodeDataset(Dataset):
    """One item per frame (step of one env) of a topic over one or many logs; see the module doc.

    >>> data = EpisodeDataset(["a.mcap", "b.mcap"], windows={"tensors.qpos": [-0.1, -0.05, 0.0]})
    >>> data[0]["tensors.qpos"].shape, data[0]["tensors.qpos_is_pad"]  # [3, 2], tensor([True, True, False])
    """

    def __init__(
        self,
        paths: PathLike | Iterable[PathLike],
        topic: str | None = None,
        windows: Mapping[str, Sequence[float]] | None = None,
    ) -> None:
        paths = each_recording(paths)  # a folder of runs: each run its own episodes
        if not paths:
            raise ConvertError("EpisodeDataset needs at least one log")
        self.samples = build_samples([read_topic(p, topic) for p in paths])
        data = self.samples.data
        unknown = [k for k in (windows or {}) if k not in data]
        if unknown:
            raise ConvertError(f"no field {', '.join(unknown)} to window; fields: {', '.join(data)}")
        self.windows = {k: window_rows(self.samples, offs) for k, offs in (windows or {}).items()}
        self._plain = {k: v for k, v in data.items() if k not in self.windows}
        s = self.samples
        self._place = {
            "episode_index": s.episode,
            "frame_index": s.frame,
            "env_index": s.env,
            "timestamp": s.time,
            "index": np.arange(len(s), dtype=np.int64),
        }

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def num_episodes(self) -> int:
        return len(self.samples.episode_starts) - 1

    def episode_range(self, episode: int) -> range:
        """The item numbers of one episode (contiguous)."""
        starts = self.samples.episode_starts
        return range(int(starts[episode]), int(starts[episode + 1]))

    def __getitem__(self, index: int | Sequence[int] | np.ndarray) -> dict[str, Any]:
        """One frame; or, for a list of indexes, the batch of them (every key stacked)."""
        if isinstance(index, int | np.integer):
            return self._gather(int(index))
        rows = np.asarray(index, dtype=np.int64)
        if rows.ndim != 1:
            raise IndexError("a batch of frames is a flat list of indexes")
        return self._gather(rows)

    def __getitems__(self, indexes: list[int]) -> list[dict[str, Any]]:
        """What a ``DataLoader(data, batch_size=...)`` asks a worker for: the batch's frames, gathered
        at once (one gather per key) and handed to its ``collate_fn`` as items (views, no copies)."""
        columns = {k: v.unbind(0) for k, v in self[list(indexes)].items()}
        return [{k: column[i] for k, column in columns.items()} for i in range(len(indexes))]

    def _gather(self, index: int | np.ndarray) -> dict[str, Any]:
        n = len(self)
        bad = np.asarray(index)
        if np.any((bad < -n) | (bad >= n)):
            raise IndexError(f"index {index} out of range for {n} frames")
        index = index % n if n else index
        return {k: torch.from_numpy(np.array(v)) for k, v in self.gather(index).items()}

    def gather(self, index: int | np.ndarray) -> dict[str, np.ndarray]:
        """The numpy arrays of frames ``index`` (in range; one gather per key), as items hold them."""
        item = {k: v[index] for k, v in self._plain.items()}
        for key, (rows, pad) in self.windows.items():
            item[key] = self.samples.data[key][rows[index]]
            item[key + "_is_pad"] = pad[index]
        for key, v in self._place.items():
            item[key] = v[index]
        return item

    def item_layout(self) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """Each key's shape and dtype in one item (what a ``BatchRing`` slot holds per item)."""
        return {k: (v.shape[1:], v.dtype) for k, v in self.gather(np.zeros(1, dtype=np.int64)).items()}

    def gather_into(self, rows: np.ndarray, out: Mapping[str, np.ndarray]) -> None:
        """``gather(rows)`` written into ``out`` (a ``BatchRing`` slot): no array in between.
        ``rows`` must be in range (``BatchLoader``'s sampler gives only such)."""
        for key, v in self._plain.items():
            np.take(v, rows, axis=0, out=out[key], mode="clip")
        for key, (frames, pad) in self.windows.items():
            np.take(self.samples.data[key], frames[rows], axis=0, out=out[key], mode="clip")
            np.take(pad, rows, axis=0, out=out[key + "_is_pad"], mode="clip")
        for key, v in self._place.items():
            np.take(v, rows, axis=0, out=out[key], mode="clip")

    def loader(
        self, batch_size: int, *, shuffle: bool = False, drop_last: bool = False, **kwargs: Any
    ) -> BatchLoader:
        """Batches gathered at once (one numpy gather per key and batch, not ``batch_size`` items
        collated one by one); with ``num_workers``, handed back through shared memory
        (``batch_ring.py``) rather than pickled. ``kwargs`` go to the ``DataLoader``."""
        return BatchLoader(self, batch_size, shuffle=shuffle, drop_last=drop_last, **kwargs)


class EpisodeStream(IterableDataset):
    """``EpisodeDataset``'s frames, episode by episode; under a ``DataLoader`` with workers, worker
    ``w`` of ``n`` yields episodes ``w, w + n, ...``: every frame exactly once across workers."""

    def __init__(self, dataset: EpisodeDataset) -> None:
        self.dataset = dataset

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        for episode in range(worker, self.dataset.num_episodes, workers):
            for index in self.dataset.episode_range(episode):
                yield self.dataset[index]
