"""Isaac Lab-style batched envs: one ``gym.Env`` whose tensors have a leading ``num_envs`` axis.

Isaac Lab's ``DirectRLEnv`` and ``ManagerBasedRLEnv`` are single ``gym.Env`` objects (not
Gymnasium vector envs) whose ``reset``/``step`` return torch tensors on the sim's device:
observations ``{"policy": [N, ...]}``, reward, terminated and truncated ``[N]``, and ``extras``.
They reset finished envs inside ``step`` (the next observation is already the new episode's),
so an episode ends at the step that says terminated or truncated and the next one starts at
the next step. ``RecordRollout`` (and ``RecordVectorRollout``) given such an env record it here.

The hot path makes one message per topic per step and no per-env Python loop: tensors go to
``rec.log`` as they are (a CUDA tensor is copied to pinned host memory asynchronously and
serialized on the writer thread). Episode sums run on host copies of reward/terminated/
truncated taken the same way; a step's episodes are written once its copy has landed (at once
on the CPU, within a step or two on a GPU, all of them at ``reset``/``close``), so the
simulator never waits for the device. ``/episodes`` gets one ``simrec.Episode`` per finished
episode, stamped with the step and sim time it ended at.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from .gym_wrappers import RecordRollout, _flatten, _step_seconds
from .recorder import Recorder

__all__ = ["RecordBatchedRollout", "is_batched_env"]


def is_batched_env(env: Any) -> bool:
    """True for a single ``gym.Env`` that steps ``num_envs`` envs at once (Isaac Lab's kind);
    Gymnasium vector envs are not (``RecordVectorRollout`` records those)."""
    if isinstance(env, gym.vector.VectorEnv):
        return False
    num_envs = getattr(getattr(env, "unwrapped", env), "num_envs", None)
    return isinstance(num_envs, int) and not isinstance(num_envs, bool) and num_envs >= 1


def _is_torch(value: Any) -> bool:
    return hasattr(value, "detach") and hasattr(value, "device")


def _record(value: Any) -> Any:
    """What ``rec.log`` gets: tensors as they are (no device sync), dicts flattened to ``a/b``."""
    if isinstance(value, Mapping | tuple):
        return {k: v if _is_torch(v) else np.asarray(v) for k, v in _flatten(value).items()}
    return value if _is_torch(value) else np.asarray(value)


def _batched_info(extras: Mapping[str, Any], num_envs: int) -> dict[str, Any]:
    """The numeric entries of ``extras``: [N, ...] tensors/arrays first, then scalars (Isaac Lab's
    ``extras["log"]`` numbers, 0-d tensors) as 0-d values; tensors stay on their device."""
    batched: dict[str, Any] = {}
    scalars: dict[str, Any] = {}
    for key, value in _flatten(dict(extras)).items():
        if _is_torch(value):
            if value.dtype.is_complex:
                continue
            shape = tuple(value.shape)
        elif isinstance(value, bool | int | float | np.ndarray | np.number | np.bool_):
            value = np.asarray(value)
            if value.dtype.kind not in "biuf":
                continue
            shape = value.shape
        else:
            continue
        if len(shape) >= 1 and shape[0] == num_envs:
            batched[key] = value
        elif len(shape) == 0:
            scalars[key] = value
    return {**batched, **scalars}


class _HostCopy:
    """Host numpy copies of a few device tensors, started without waiting for the device."""

    def __init__(self, tensors: dict[str, Any]) -> None:
        self._events: list[Any] = []
        self._host: dict[str, Any] = {}
        for key, tensor in tensors.items():
            tensor = tensor.detach()
            if tensor.device.type == "cuda":
                import torch  # present: we hold a torch tensor

                host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
                host.copy_(tensor, non_blocking=True)
                self._host[key] = host
                event = torch.cuda.Event()
                event.record(torch.cuda.current_stream(tensor.device))  # the copy's stream, its device
                self._events.append(event)
            else:  # CPU (a copy now), or a device without pinned async copies (MPS, XPU): sync copy
                self._host[key] = tensor.to("cpu", copy=True)

    def ready(self) -> bool:
        return all(event.query() for event in self._events)

    def arrays(self) -> dict[str, np.ndarray]:
        for event in self._events:
            event.synchronize()
        return {k: v.numpy() for k, v in self._host.items()}


class _BatchEpisodes:
    """Per-env episode sums (float64 returns, int64 lengths) kept on the host from each step's
    reward/terminated/truncated; finished episodes go to ``rec.episode_end``."""

    def __init__(self, recorder: Recorder, num_envs: int, on_episode: Callable[[int, Any], None]) -> None:
        self.recorder = recorder
        self.returns = np.zeros(num_envs)
        self.lengths = np.zeros(num_envs, dtype=np.int64)
        self._pending: deque[tuple[int, float | None, Any]] = deque()
        self._on_episode = on_episode

    def add(self, step: int, sim_time: float | None, reward: Any, terminated: Any, truncated: Any) -> None:
        """Queue one step's values (host copies start now) and account for the steps whose copies landed."""
        values = {"reward": reward, "terminated": terminated, "truncated": truncated}
        if all(_is_torch(v) for v in values.values()):
            copy: Any = _HostCopy(values)
        else:  # numpy-returning batched envs: take the values as they are
            copy = {k: np.array(v.detach().cpu() if _is_torch(v) else v) for k, v in values.items()}
        self._pending.append((step, sim_time, copy))
        self.drain(wait=False)

    def drain(self, wait: bool) -> None:
        while self._pending:
            step, sim_time, copy = self._pending[0]
            if isinstance(copy, _HostCopy):
                if not (wait or copy.ready()):
                    return
                copy = copy.arrays()
            self._pending.popleft()
            self._account(step, sim_time, copy)

    def restart(self, mask: np.ndarray | None = None) -> None:
        """A reset: every pending step is accounted for, then the sums of the reset envs restart."""
        self.drain(wait=True)
        if mask is None:
            self.returns[:] = 0.0
            self.lengths[:] = 0
        else:
            self.returns[mask] = 0.0
            self.lengths[mask] = 0

    def _account(self, step: int, sim_time: float | None, values: dict[str, np.ndarray]) -> None:
        reward = values["reward"].reshape(len(self.returns), -1)[:, 0].astype(np.float64)
        terminated = values["terminated"].reshape(len(self.returns)).astype(bool)
        truncated = values["truncated"].reshape(len(self.returns)).astype(bool)
        self.returns += reward
        self.lengths += 1
        done = terminated | truncated
        for i in np.flatnonzero(done):  # the finished episodes only, not every env
            episode = self.recorder.episode_end(
                int(i),
                return_=float(self.returns[i]),
                length=int(self.lengths[i]),
                terminated=bool(terminated[i]),
                truncated=bool(truncated[i]),
                step=step,
                sim_time=sim_time,
            )
            self._on_episode(int(i), episode)
        self.returns[done] = 0.0
        self.lengths[done] = 0


class RecordBatchedRollout(RecordRollout):
    """Record an Isaac Lab-style batched env: [N, ...] batches per step, per-env episodes.

    Topics are those of ``RecordVectorRollout`` (``obs``, ``action``, ``step`` with [N] reward/
    terminated/truncated, ``info`` with ``extras``' [N] tensors and numbers, ``/episodes``,
    ``episode_stats``). Frames (``env.render()``, one image of the scene) follow RecordVideo's
    schedule; Isaac Lab's ``--video_length`` / ``--video_interval`` are ``video_length=`` /
    ``video_interval=``. ``RecordRollout(env, ...)`` returns one of these for a batched env.

    Args: as ``RecordRollout``.
    """

    def __init__(
        self, env: gym.Env, path_or_recorder: str | os.PathLike[str] | Recorder, **options: Any
    ) -> None:
        super().__init__(env, path_or_recorder, **options)
        unwrapped = env.unwrapped
        step_dt = getattr(unwrapped, "step_dt", None)  # Isaac Lab: physics dt x decimation
        if isinstance(step_dt, int | float) and not isinstance(step_dt, bool) and step_dt > 0:
            self.step_seconds = float(step_dt)
        else:
            self.step_seconds = _step_seconds(env)
        self.num_envs: int = int(unwrapped.num_envs)
        self.episodes = _BatchEpisodes(self.recorder, self.num_envs, self._stats)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        obs, extras = self.env.reset(seed=seed, options=options)
        rec, step = self.recorder, self.steps
        self.episodes.restart()
        rec.reset(range(self.num_envs), step=step, sim_time=self._sim(step))
        rec.log(self.topics["obs"], _record(obs), step=step, sim_time=self._sim(step))
        if self.trigger is not None and self.trigger.reset():
            self._frame(self.env.render(), step)
        return obs, extras

    def step(self, action: Any) -> tuple[Any, Any, Any, Any, dict]:
        obs, reward, terminated, truncated, extras = self.env.step(action)
        rec, topics, step = self.recorder, self.topics, self.steps
        self.steps += 1
        sim_time = self._sim(step)
        rec.log(topics["action"], _record(action), step=step, sim_time=sim_time)
        rec.log(topics["obs"], _record(obs), step=step, sim_time=sim_time)
        rec.log(
            topics["step"],
            {"reward": _record(reward), "terminated": _record(terminated), "truncated": _record(truncated)},
            step=step,
            sim_time=sim_time,
        )
        info = _batched_info(extras, self.num_envs) if isinstance(extras, Mapping) else {}
        if info:
            rec.log(topics["info"], info, step=step, sim_time=sim_time)
        self.episodes.add(step, sim_time, reward, terminated, truncated)
        if self.trigger is not None and self.trigger.step():
            self._frame(self.env.render(), step)
        return obs, reward, terminated, truncated, extras

    def close(self) -> None:
        try:
            self.episodes.drain(wait=True)
        finally:
            super().close()  # the env's, then the log's
