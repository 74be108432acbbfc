"""Batches handed from ``DataLoader`` workers through a ring of shared-memory slots.

Why: a worker that returns a batch as tensors makes torch move each tensor into a new
shared-memory segment, send its handle through a pipe, and map it in the main process: one
segment per key per batch. For small-item datasets (a window of a [64] state) that hand-over,
not the gather, dominates: several times the cost of slicing the same windows in memory.

Here the main process makes ``slots`` batch buffers in one shared segment before the workers
start; worker ``w`` gathers batch ``b`` straight into slot ``b % slots`` (one ``np.take`` per key)
and returns two integers. The main process copies the rows out of the slot into tensors of its
own when the ``DataLoader`` hands it that batch. A slot is free again once its batch was copied:
the loader keeps at most ``prefetch_factor * num_workers`` batches in flight, in order, so
``slots`` = that + 2 never lets a worker write a slot that has not been copied out yet.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, Sampler, SequentialSampler


class Gathers(Protocol):
    """What the ring needs of a dataset: the layout of one item, and a gather into given arrays."""

    def item_layout(self) -> dict[str, tuple[tuple[int, ...], np.dtype]]: ...

    def gather_into(self, rows: np.ndarray, out: Mapping[str, np.ndarray]) -> None: ...


class BatchRing:
    """``slots`` buffers of ``batch_size`` items, one array per key, in one shared segment."""

    def __init__(self, layout: dict[str, tuple[tuple[int, ...], np.dtype]], batch_size: int, slots: int):
        self.layout, self.batch_size, self.slots = layout, batch_size, slots
        self._offsets: dict[str, int] = {}
        size = 0
        for key, (shape, dtype) in layout.items():
            size = -(-size // 64) * 64  # each key's block 64-byte aligned
            self._offsets[key] = size
            size += slots * batch_size * int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        self.memory = torch.empty(max(size, 1), dtype=torch.uint8).share_memory_()
        self._views: dict[str, np.ndarray] | None = None

    def views(self) -> dict[str, np.ndarray]:
        """Per key, a numpy view ``[slots, batch_size, ...]`` of the shared buffers (made lazily
        in each process, as the segment arrives there)."""
        if self._views is None:
            raw = self.memory.numpy()
            self._views = {}
            for key, (shape, dtype) in self.layout.items():
                count = self.slots * self.batch_size * int(np.prod(shape, dtype=np.int64))
                start = self._offsets[key]
                flat = raw[start : start + count * np.dtype(dtype).itemsize].view(dtype)
                self._views[key] = flat.reshape(self.slots, self.batch_size, *shape)
        return self._views

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_views": None}

    def fill(self, dataset: Gathers, number: int, rows: np.ndarray) -> int:
        """Gather ``rows`` into the slot of batch ``number``; the slot."""
        slot = number % self.slots
        dataset.gather_into(rows, {k: v[slot, : len(rows)] for k, v in self.views().items()})
        return slot

    def take(self, slot: int, count: int, pin: bool = False) -> dict[str, torch.Tensor]:
        """The first ``count`` items of ``slot`` as tensors that own their memory."""
        out = {k: torch.from_numpy(v[slot, :count].copy()) for k, v in self.views().items()}
        return {k: t.pin_memory() for k, t in out.items()} if pin else out


class _Numbered(Sampler):
    """A batch sampler's batches with their running number: ``(number, indexes)``."""

    def __init__(self, batches: BatchSampler) -> None:
        self.batches = batches

    def __iter__(self) -> Iterator[tuple[int, list[int]]]:
        return iter(enumerate(self.batches))

    def __len__(self) -> int:
        return len(self.batches)


class _RingFiller(Dataset):
    """What a worker runs: gather batch ``number`` into the ring, return only ``(slot, count)``."""

    def __init__(self, dataset: Gathers, ring: BatchRing) -> None:
        self.dataset, self.ring = dataset, ring

    def __getitem__(self, request: tuple[int, list[int]]) -> tuple[int, int]:
        number, rows = request
        return self.ring.fill(self.dataset, number, np.asarray(rows, dtype=np.int64)), len(rows)


class BatchLoader:
    """Batches of a map-style dataset as dicts of tensors, gathered whole (one ``np.take`` per key
    and batch); with ``num_workers > 0`` they come back through a ``BatchRing``. Iterate it as a
    ``DataLoader`` (``len()`` is its number of batches); one iteration at a time, as with a
    ``DataLoader`` of persistent workers. ``kwargs`` go to the ``DataLoader``.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        *,
        shuffle: bool = False,
        drop_last: bool = False,
        num_workers: int = 0,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("in_order") is False:
            raise ValueError("a BatchLoader hands batches over in order (in_order=False is not supported)")
        self.dataset = dataset
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin = bool(kwargs.pop("pin_memory", False))
        self.kwargs = kwargs
        order = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
        self.batches = BatchSampler(order, batch_size, drop_last)
        self._loader: DataLoader | None = None
        self._ring: BatchRing | None = None

    def __len__(self) -> int:
        return len(self.batches)

    def _make(self) -> tuple[DataLoader, BatchRing | None]:
        if self.num_workers == 0:
            loader = DataLoader(
                self.dataset, batch_size=None, sampler=self.batches, pin_memory=self.pin, **self.kwargs
            )
            return loader, None
        in_flight = (self.kwargs.get("prefetch_factor") or 2) * self.num_workers
        ring = BatchRing(self.dataset.item_layout(), self.batch_size, in_flight + 2)
        loader = DataLoader(
            _RingFiller(self.dataset, ring),
            batch_size=None,
            sampler=_Numbered(self.batches),
            num_workers=self.num_workers,
            **self.kwargs,
        )
        return loader, ring

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        # persistent workers keep their ring; otherwise each pass has workers (and a ring) of its own
        if self._loader is None or not self.kwargs.get("persistent_workers"):
            self._loader, self._ring = self._make()
        loader, ring = self._loader, self._ring
        if ring is None:
            yield from loader
            return
        for slot, count in loader:
            yield ring.take(slot, count, self.pin)
