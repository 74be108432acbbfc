"""Samples and windows over episodes, in numpy (no torch): the index behind the windowed datasets.

A sample is one step of one environment of one log: a batched topic's ``[T, N, ...]`` fields
give ``[...]`` per sample (N = 1 included). Samples are numbered episode by episode
(log, then env, then step), so every episode is one contiguous range of sample numbers and
``episode_index`` numbers episodes across all logs and envs. A window ``{key: offsets in
seconds}`` (LeRobot's ``delta_timestamps``) becomes, per sample, the sample numbers of the
frames nearest to ``time + offset`` inside the sample's own episode, and a pad mask: True where
no frame of the episode lies within half a step of the wanted time (before its first frame,
after its last, or across a gap). A padded entry repeats the nearest frame of the episode, so a
window never crosses an episode boundary.

Episodes come from the converter's ``episode_index`` column (``episodes.py``: a done field);
a topic without one is one episode per env and log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ConvertError

TIME_KEYS = ("log_time", "publish_time")


@dataclass
class Samples:
    """Every sample's columns (``data``: key -> [S, ...]) and its place (log, env, episode, frame)."""

    data: dict[str, np.ndarray]
    log: np.ndarray
    env: np.ndarray
    episode: np.ndarray
    frame: np.ndarray
    time: np.ndarray  # seconds since the start of the sample's episode
    tolerance: np.ndarray  # per sample: half its log's median step, in seconds
    episode_starts: np.ndarray  # [E + 1] sample number where each episode starts, then S

    def __len__(self) -> int:
        return len(self.log)


def _times(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """Seconds per step: the recorded sim time where it moves forward, else the receive time."""
    sim = arrays.get("sim_time")
    usable = sim is not None and sim.ndim == 1 and sim.dtype.kind == "f" and len(sim) > 1
    if usable and np.all(np.diff(sim) >= 0) and sim[-1] > sim[0]:
        return sim.astype(np.float64)
    log_time = arrays["log_time"].astype(np.int64)
    return (log_time - log_time[0]).astype(np.float64) / 1e9


def _envs(arrays: Mapping[str, np.ndarray]) -> int | None:
    """N for a batched topic (its ``episode_index`` is [T, N], as a StateBatch's), else None."""
    index = arrays.get("episode_index")
    return int(index.shape[1]) if index is not None and index.ndim == 2 else None


def build_samples(logs: Sequence[Mapping[str, np.ndarray]]) -> Samples:
    """The samples of ``logs`` (one topic's arrays per log, as ``collect``/``build_arrays`` give)."""
    keys = [k for k, v in logs[0].items() if v.dtype != object and k != "episode_index"]
    parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    place: dict[str, list[np.ndarray]] = {k: [] for k in ("log", "env", "episode", "frame", "time", "tol")}
    starts: list[int] = []
    episodes = 0
    count = 0
    for number, arrays in enumerate(logs):
        missing = [k for k in keys if k not in arrays]
        if missing:
            raise ConvertError(f"log {number} has no field {', '.join(missing)} that log 0 has")
        steps = len(arrays["log_time"])
        if not steps:
            continue
        batched = _envs(arrays)
        envs = batched or 1
        times = _times(arrays)
        tol = float(np.median(np.diff(times))) / 2 if steps > 1 else 0.0
        index = arrays.get("episode_index")
        for env in range(envs):
            local = np.zeros(steps, dtype=np.int64) if index is None else index.reshape(steps, -1)[:, env]
            cuts = np.flatnonzero(np.diff(local)) + 1
            bounds = np.concatenate([[0], cuts, [steps]])
            lengths = np.diff(bounds)
            episode = np.repeat(np.arange(episodes, episodes + len(lengths)), lengths)
            frame = np.arange(steps) - np.repeat(bounds[:-1], lengths)
            starts += (count + bounds[:-1]).tolist()
            episodes += len(lengths)
            count += steps
            place["log"].append(np.full(steps, number, dtype=np.int64))
            place["env"].append(np.full(steps, env, dtype=np.int64))
            place["episode"].append(episode)
            place["frame"].append(frame)
            place["time"].append(times - np.repeat(times[bounds[:-1]], lengths))
            place["tol"].append(np.full(steps, tol))
            for key in keys:
                value = arrays[key]
                per_env = batched is not None and value.ndim >= 2 and value.shape[1] == envs
                parts[key].append(value[:, env] if per_env else value)
    if not count:
        raise ConvertError("the logs hold no step to sample")
    cat = {k: np.concatenate(v) for k, v in place.items()}
    return Samples(
        data={k: np.concatenate(v) for k, v in parts.items()},
        log=cat["log"],
        env=cat["env"],
        episode=cat["episode"],
        frame=cat["frame"],
        time=cat["time"],
        tolerance=cat["tol"],
        episode_starts=np.asarray([*starts, count], dtype=np.int64),
    )


def window_rows(samples: Samples, offsets: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """(sample numbers [S, W], pad mask [S, W]) of ``offsets`` seconds around every sample."""
    offs = np.asarray(offsets, dtype=np.float64)
    if offs.ndim != 1 or not len(offs) or not np.all(np.isfinite(offs)):
        raise ConvertError(f"a window is a list of finite offsets in seconds, not {list(offsets)!r}")
    # one sorted axis for all episodes: episode e occupies [e * span, e * span + duration]
    span = float(samples.time.max()) + float(np.abs(offs).max()) + 1.0
    axis = samples.episode * span + samples.time
    wanted = axis[:, None] + offs[None, :]
    first = samples.episode_starts[samples.episode][:, None]
    last = samples.episode_starts[samples.episode + 1][:, None] - 1
    after = np.clip(np.searchsorted(axis, wanted), first, last)
    before = np.clip(after - 1, first, last)
    nearer = np.where(np.abs(axis[before] - wanted) <= np.abs(axis[after] - wanted), before, after)
    pad = np.abs(axis[nearer] - wanted) > samples.tolerance[:, None] + 1e-9
    return nearer, pad
