"""Windowed dataset iteration against slicing the same windows out of numpy arrays in memory.

    python benchmarks/bench_windows.py [--steps 20000] [--episode 500] [--batch 256] [--reps 3]

Writes a log of ``--steps`` StateBatch steps (one env, a [64]-dim float32 state, an episode end
every ``--episode`` steps), builds ``EpisodeDataset`` with a window of 16 steps (offsets -15..0
steps, in seconds) on the state, then times, alternately and ``--reps`` times each:

- simrec: ``dataset.loader(batch_size, num_workers=1)`` (batches gathered at once, handed back
  through a ring of shared-memory slots: ``convert/batch_ring.py``), every batch of windows + pad
  masks and every other key of the item; also with ``num_workers=0``; and, for before/after in
  the same run, the same batches handed back by torch (a ``DataLoader(batch_size=None)`` over a
  ``BatchSampler``: what ``dataset.loader`` did before the ring), a plain
  ``DataLoader(dataset, batch_size, num_workers=1)`` (which asks ``__getitems__`` for each batch)
  and the same with items fetched one by one (the dataset without ``__getitems__``);
- numpy: the same windows sliced from the state array already in memory (``state[i-15:i+1]``,
  the episode's first row repeated before it, as the pad does), stacked into the same batches
  and handed to torch (``torch.from_numpy``).

Both produce the same [batch, 16, 64] tensors (checked). The goal: simrec within 2x of numpy.
Building the dataset (reading the log) is timed apart. A worker process hands every batch to
the main process through shared memory; the "worker IPC floor" row times one worker handing over
the same batches made in advance, i.e. what any dataset pays for ``num_workers=1``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

T0 = 1_700_000_000_000_000_000
PERIOD = 10_000_000  # 10 ms
WINDOW = 16


def write(path: Path, steps: int, episode: int) -> np.ndarray:
    from simrec_node.msgs import StateBatch, descriptor_set_of, encode_state_batch
    from simrec_node.record import McapWriter

    rng = np.random.default_rng(0)
    state = rng.standard_normal((steps, 1, 64), dtype=np.float32)
    with McapWriter(path) as writer:
        schema = writer.add_schema("simrec.StateBatch", "protobuf", descriptor_set_of(StateBatch))
        channel = writer.add_channel("/sim/state", "protobuf", schema)
        for i in range(steps):
            done = np.array([(i + 1) % episode == 0])
            data = encode_state_batch({"state": state[i], "done": done}, step=i + 1, sim_time=i * 0.01)
            writer.write(channel, i + 1, T0 + i * PERIOD, T0 + i * PERIOD, data)
    return state[:, 0]


def numpy_batches(state: np.ndarray, episode: int, batch: int):
    """The baseline: windows sliced from memory, padded with the episode's first row."""
    import torch

    for lo in range(0, len(state), batch):
        windows, pads = [], []
        for i in range(lo, min(lo + batch, len(state))):
            first = i - i % episode
            start = i - WINDOW + 1
            if start >= first:
                windows.append(state[start : i + 1])
                pads.append(np.zeros(WINDOW, dtype=bool))
            else:
                missing = first - start
                windows.append(
                    np.concatenate([np.repeat(state[first : first + 1], missing, 0), state[first : i + 1]])
                )
                pads.append(np.arange(WINDOW) < missing)
        yield torch.from_numpy(np.stack(windows)), torch.from_numpy(np.stack(pads))


class _ItemsOnly:
    """The dataset without ``__getitems__``: a plain DataLoader fetches its items one by one."""

    def __init__(self, data) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        return self.data[index]


class _Premade:
    """A map-style dataset of batches made in advance: what one worker costs just to hand them over."""

    def __init__(self, batches: list) -> None:
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int):
        return self.batches[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--episode", type=int, default=500)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()

    import torch

    from simrec_node.convert import EpisodeDataset

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "windows.mcap"
        state = write(path, args.steps, args.episode)
        offsets = [(k - WINDOW + 1) * PERIOD / 1e9 for k in range(WINDOW)]
        t = time.perf_counter()
        data = EpisodeDataset(path, windows={"tensors.state": offsets})
        build = time.perf_counter() - t

    premade = _Premade(
        [data[list(range(lo, min(lo + args.batch, len(data))))] for lo in range(0, len(data), args.batch)]
    )
    loaders = {
        "simrec dataset.loader, 1 worker": data.loader(args.batch, num_workers=1, persistent_workers=True),
        "simrec dataset.loader, in process": data.loader(args.batch),
        "before: batches pickled by torch, 1 worker": torch.utils.data.DataLoader(
            data,
            batch_size=None,
            sampler=torch.utils.data.BatchSampler(
                torch.utils.data.SequentialSampler(data), args.batch, drop_last=False
            ),
            num_workers=1,
            persistent_workers=True,
        ),
        "plain DataLoader (__getitems__), 1 worker": torch.utils.data.DataLoader(
            data, batch_size=args.batch, num_workers=1, persistent_workers=True
        ),
        "plain DataLoader, items one by one": torch.utils.data.DataLoader(
            _ItemsOnly(data), batch_size=args.batch, num_workers=1, persistent_workers=True
        ),
        "worker IPC floor (batches made in advance)": torch.utils.data.DataLoader(
            premade, batch_size=None, num_workers=1, persistent_workers=True
        ),
    }
    for loader in loaders.values():  # the same tensors every way
        for (window, pad), got in zip(numpy_batches(state, args.episode, args.batch), loader, strict=True):
            assert torch.equal(got["tensors.state"], window) and torch.equal(got["tensors.state_is_pad"], pad)

    times: dict[str, list[float]] = {name: [] for name in loaders}
    baseline = []
    for _ in range(args.reps):
        for name, loader in loaders.items():
            t = time.perf_counter()
            for batch in loader:
                batch["tensors.state"].sum()
            times[name].append(time.perf_counter() - t)
        t = time.perf_counter()
        for window, _pad in numpy_batches(state, args.episode, args.batch):
            window.sum()
        baseline.append(time.perf_counter() - t)
    b = statistics.median(baseline)
    print(
        f"{args.steps} steps, [64] state, windows of {WINDOW} steps, batch {args.batch}, "
        f"median of {args.reps}"
    )
    print(f"build EpisodeDataset (read the log): {build:.2f} s")
    print(f"{'numpy slicing in memory':44s}: {b:.3f} s ({args.steps / b:,.0f} windows/s)")
    for name, values in times.items():
        a = statistics.median(values)
        print(f"{name:44s}: {a:.3f} s ({args.steps / a:,.0f} windows/s), {a / b:.2f}x numpy")
    a = statistics.median(times["simrec dataset.loader, 1 worker"])
    floor = statistics.median(times["worker IPC floor (batches made in advance)"])
    before = statistics.median(times["before: batches pickled by torch, 1 worker"])
    print(f"dataset.loader, 1 worker against the worker IPC floor: {a / floor:.2f}x")
    print(f"dataset.loader, 1 worker: before {before / b:.2f}x numpy, now {a / b:.2f}x numpy")
    print(
        f"goal: dataset.loader with one worker <= 2x numpy: "
        f"{'met' if a / b <= 2 else 'NOT met'} ({a / b:.2f}x)"
    )


if __name__ == "__main__":
    main()
