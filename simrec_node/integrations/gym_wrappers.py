"""Gymnasium wrappers that record rollouts into an MCAP file (``pip install 'simrec[gymnasium]'``).

``RecordRollout`` (one env) and ``RecordVectorRollout`` (vector envs) record, under
``topic_prefix`` (default ``/rollout``):

- ``obs``: ``simrec.Tensor`` (Box, Discrete, ...) or ``simrec.StateBatch`` (Dict; nested keys
  joined with ``/``), after every reset and step;
- ``action``: ``simrec.Tensor``;
- ``step``: reward, terminated, truncated (``simrec.Scalars`` for one env; for vector envs a
  ``simrec.StateBatch`` of [N] arrays plus ``autoreset``: True where the step only reset that env);
- ``info``: the numeric ``info`` entries;
- ``/episodes``: one ``simrec.Episode`` per finished episode (``episode_return``, ``length``,
  ``wall_time_s``, ...: simrec's one naming of episode statistics);
- ``episode_stats``: the same numbers under Gymnasium's names ``r``, ``l``, ``t`` (and
  ``env_index``), as ``RecordEpisodeStatistics`` puts them in ``info["episode"]``;
- frames (when recorded) as ``foxglove.CompressedImage`` on ``/camera/<name_prefix>``, on
  RecordVideo's schedule (vector envs: every env's, tiled as vector RecordVideo tiles them); every
  clip also gets a ``simrec.clip`` metadata record named as RecordVideo names its file
  (``rl-video-episode-8``), with its frames (``first_frame`` on the topic, ``frames``), episodes
  and video rate (``fps``, default the env's ``render_fps``) that ``simrec convert`` (``--clips``)
  uses. With ``video_folder`` the clips are also written there as RecordVideo writes them
  (``<video_folder>/rl-video-episode-8.mp4``).

Both take ``RecordVideo``'s arguments (``video_folder``, ``episode_trigger``, ``step_trigger``,
``video_length``, ``name_prefix``, ``fps``, ``disable_logger``) by the same names.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from simrec_node.mcap import metadata as metadata_names

try:
    import gymnasium as gym
except ImportError as exc:  # pragma: no cover - exercised only without gymnasium
    raise ImportError("simrec's Gymnasium wrappers need gymnasium: pip install 'simrec[gymnasium]'") from exc

from .episodes import GYMNASIUM_NAMES
from .errors import WrapperArgumentError
from .recorder import Recorder
from .triggers import Clip, VideoTrigger

__all__ = ["RecordRollout", "RecordVectorRollout"]

_log = logging.getLogger("simrec")

_NOT_TOKEN = re.compile(r"[^A-Za-z0-9_]")


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts/tuples of arrays -> {"a/b": array}."""
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, tuple):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, item in items:
        out.update(_flatten(item, f"{prefix}/{key}" if prefix else str(key)))
    return out


def _as_record(value: Any) -> Any:
    """What ``rec.log`` gets for an observation or action: an array, or a dict of arrays."""
    if isinstance(value, Mapping | tuple):
        return {k: np.asarray(v) for k, v in _flatten(value).items()}
    if hasattr(value, "detach"):  # a torch tensor (torch-based envs)
        return value
    return np.asarray(value)


def _numeric_info(info: Mapping[str, Any], batch: int | None) -> dict[str, Any]:
    """The numeric entries of ``info``: scalars (one env) or [N] arrays (vector env)."""
    out: dict[str, Any] = {}
    for key, value in _flatten(dict(info)).items():
        array = np.asarray(value) if not isinstance(value, str) else None
        if array is None or array.dtype.kind not in "biuf":
            continue
        if batch is None and array.ndim == 0:
            out[key] = array.item()
        elif batch is not None and array.ndim >= 1 and array.shape[0] == batch:
            out[key] = array
    return out


def _success(info: Mapping[str, Any]) -> bool | None:
    for key in ("is_success", "success"):
        if key in info:
            return bool(info[key])
    return None


def _step_seconds(env: Any) -> float | None:
    """How much sim time one step is: the env's ``dt`` (MuJoCo, Pendulum, Acrobot), else one frame
    at ``metadata["render_fps"]`` (how RecordVideo times a step's frame: CartPole's 50 is its tau);
    None when the env says neither (messages are then stamped with the wall clock)."""
    dt = getattr(getattr(env, "unwrapped", env), "dt", None)
    if isinstance(dt, int | float) and dt > 0:
        return float(dt)
    fps = (getattr(env, "metadata", None) or {}).get("render_fps")
    if isinstance(fps, int | float) and fps > 0:
        return 1.0 / fps
    return None


class _Rollout:
    """What both wrappers share: the recorder, topic names and the frame schedule."""

    def _setup(
        self,
        env: Any,
        path_or_recorder: str | os.PathLike[str] | Recorder,
        record_frames: bool | None,
        trigger_args: dict[str, Any],
        topic_prefix: str,
        recorder_kwargs: dict[str, Any],
        video: dict[str, Any],
    ) -> None:
        if isinstance(path_or_recorder, Recorder):
            self.recorder, self._owns_recorder = path_or_recorder, False
        else:
            self.recorder, self._owns_recorder = Recorder(path_or_recorder, **recorder_kwargs), True
        render_mode = getattr(env, "render_mode", None)
        video_folder = video["video_folder"]
        if record_frames is None:
            record_frames = render_mode == "rgb_array"
        elif record_frames and render_mode != "rgb_array":
            raise ValueError(
                f"record_frames needs render_mode='rgb_array', this env has {render_mode!r}: "
                "make the env with render_mode='rgb_array'"
            )
        if video_folder is not None and not record_frames:
            raise ValueError(
                "video_folder needs frames: make the env with render_mode='rgb_array' "
                f"(it has {render_mode!r})"
            )
        fps = video["fps"]
        if fps is None:  # as RecordVideo
            fps = (getattr(env, "metadata", None) or {}).get("render_fps", 30)
        if not (isinstance(fps, int | float) and fps > 0):
            raise ValueError(f"fps must be a positive frame rate, not {fps!r}")
        self.fps = fps
        self.disable_logger = bool(video["disable_logger"])
        self.video_folder = None if video_folder is None else Path(video_folder).absolute()
        if self.video_folder is not None:
            if self.video_folder.is_dir() and any(self.video_folder.glob("*.mp4")):
                warnings.warn(
                    f"simrec: {self.video_folder} already holds videos; clips of the same name are "
                    "replaced (as RecordVideo does)",
                    stacklevel=3,
                )
            self.video_folder.mkdir(parents=True, exist_ok=True)
        name_prefix = trigger_args["name_prefix"]
        self.frame_topic = f"/camera/{_NOT_TOKEN.sub('_', name_prefix) or 'frames'}"
        # (topic, clip name suffix) of each frame stream: one, or one per env (per_env_frames)
        self._streams: list[tuple[str, str]] = [(self.frame_topic, "")]
        self._writers: dict[int, Any] = {}  # stream -> the open clip's MP4 in video_folder
        self.trigger = VideoTrigger(**trigger_args, on_clip=self._clip_done) if record_frames else None
        prefix = "/" + topic_prefix.strip("/")
        self.topics = {
            name: f"{prefix}/{name}" for name in ("obs", "action", "step", "info", "episode_stats")
        }
        self.steps = 0  # step() calls so far: the step number of the next one
        self.step_seconds = _step_seconds(env)

    def _sim(self, step: int) -> float | None:
        """Sim time of ``step`` (the messages' publish time), where the env says how long a step is."""
        return None if self.step_seconds is None else step * self.step_seconds

    def _clip_done(self, clip: Clip) -> None:
        for index, (topic, suffix) in enumerate(self._streams):
            self.recorder.add_metadata(
                metadata_names.CLIP,
                {
                    "name": clip.name + suffix,
                    "topic": topic,
                    "frames": str(clip.frames),
                    "start_episode": str(clip.start_episode),
                    "start_step": str(clip.start_step),
                    "end_episode": str(clip.end_episode),
                    "first_frame": str(clip.first_frame),
                    "fps": str(self.fps),
                },
            )
            writer = self._writers.pop(index, None)
            if writer is not None:
                writer.close()
                if not self.disable_logger:
                    _log.warning(
                        "simrec: wrote %s (%d frames at %g fps)", writer.target, clip.frames, self.fps
                    )

    def _write_clip_frame(self, index: int, frame: np.ndarray) -> None:
        """Append ``frame`` to the open clip's MP4 in ``video_folder`` (RecordVideo's file name)."""
        from simrec_node.convert.frames import pad_even
        from simrec_node.convert.mp4 import ClipWriter

        if index not in self._writers:
            target = self.video_folder / f"{self.trigger.clip.name}{self._streams[index][1]}.mp4"
            self._writers[index] = ClipWriter(target, float(self.fps), None, quality=5.0)
        rgb = np.ascontiguousarray(frame[..., :3], dtype=np.uint8)
        self._writers[index].write(pad_even(rgb))

    def _stream_frames(self, frame: Any) -> list[np.ndarray] | None:
        """The frame of each stream from what ``render()`` gave (one env: an array)."""
        return [frame] if isinstance(frame, np.ndarray) else None

    def _frame(self, frame: Any, step: int) -> None:
        frames = self._stream_frames(frame)
        if frames is None:
            return
        for index, ((topic, _), image) in enumerate(zip(self._streams, frames, strict=True)):
            self.recorder.log_image(topic, image, sim_time=self._sim(step))
            if self.video_folder is not None:
                self._write_clip_frame(index, image)
        self.trigger.captured()

    def _stats(self, env_index: int, episode: Any) -> None:
        values: dict[str, Any] = {ours: getattr(episode, field) for ours, field in GYMNASIUM_NAMES.items()}
        values["env_index"] = env_index
        self.recorder.log(
            self.topics["episode_stats"], values, step=episode.end_step, sim_time=self._sim(episode.end_step)
        )

    def _finish(self) -> None:
        try:
            if self.trigger is not None:
                self.trigger.stop()
        finally:
            for writer in self._writers.values():  # a clip that ended with no frame recorded: none to keep
                writer.abort()
            self._writers.clear()
            if self._owns_recorder:
                self.recorder.close()


def _batched_or_new(cls: type, base: type, env: Any, args: tuple, kwargs: dict) -> Any:
    """A ``RecordBatchedRollout`` for an Isaac Lab-style batched env, else a new ``cls``."""
    from .batched import RecordBatchedRollout, is_batched_env

    if cls is base and is_batched_env(env):
        vector_only = sorted({"video_aspect_ratio", "record_first_only", "per_env_frames"} & kwargs.keys())
        if vector_only:
            raise WrapperArgumentError(
                f"{', '.join(vector_only)}: for a vector env's per-env frames; an Isaac Lab-style "
                "batched env renders one image of the scene, so leave it out"
            )
        if issubclass(RecordBatchedRollout, cls):  # RecordRollout: Python calls its __init__ next
            return object.__new__(RecordBatchedRollout)
        return RecordBatchedRollout(env, *args, **kwargs)  # not a cls: Python skips cls.__init__
    return object.__new__(cls)


class RecordRollout(gym.Wrapper, _Rollout):
    """Record every transition of a Gymnasium env, its episodes and (on a schedule) its frames.

    Args:
        env: the environment.
        path_or_recorder: an MCAP file to write (closed with the env) or a ``Recorder`` to share.
        record_frames: record ``env.render()`` frames; default: when ``render_mode="rgb_array"``.
        video_folder: also write each clip there as an MP4, named as ``RecordVideo`` names it.
        episode_trigger, step_trigger, video_length, name_prefix: as in ``RecordVideo``.
        fps: the clips' frame rate (default: the env's ``render_fps``, else 30, as RecordVideo),
            recorded with each clip so ``simrec convert`` uses it.
        disable_logger: False: log a line for each clip written to ``video_folder``.
        video_interval: start a clip every this many steps (Isaac Lab's ``--video_interval``).
        topic_prefix: where the rollout topics go.
        **recorder_kwargs: passed to ``Recorder`` when given a path (``image_format="png"``, ...).

    An Isaac Lab-style batched env (one ``gym.Env`` with ``num_envs`` and [N] tensors) gets a
    ``RecordBatchedRollout`` (``simrec_node.integrations.batched``) with the same arguments.
    """

    def __new__(cls, env: gym.Env, *args: Any, **kwargs: Any) -> Any:
        return _batched_or_new(cls, RecordRollout, env, args, kwargs)

    def __init__(
        self,
        env: gym.Env,
        path_or_recorder: str | os.PathLike[str] | Recorder,
        *,
        record_frames: bool | None = None,
        video_folder: str | os.PathLike[str] | None = None,
        episode_trigger: Callable[[int], bool] | None = None,
        step_trigger: Callable[[int], bool] | None = None,
        video_length: int = 0,
        name_prefix: str = "rl-video",
        fps: int | float | None = None,
        disable_logger: bool = True,
        video_interval: int | None = None,
        topic_prefix: str = "/rollout",
        **recorder_kwargs: Any,
    ) -> None:
        gym.Wrapper.__init__(self, env)
        trigger_args = dict(
            episode_trigger=episode_trigger,
            step_trigger=step_trigger,
            video_length=video_length,
            name_prefix=name_prefix,
            video_interval=video_interval,
        )
        video = dict(video_folder=video_folder, fps=fps, disable_logger=disable_logger)
        self._setup(env, path_or_recorder, record_frames, trigger_args, topic_prefix, recorder_kwargs, video)
        self._return = 0.0
        self._length = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        obs, info = self.env.reset(seed=seed, options=options)
        rec = self.recorder
        rec.reset(0, step=self.steps, sim_time=self._sim(self.steps))
        self._return, self._length = 0.0, 0
        rec.log(self.topics["obs"], _as_record(obs), step=self.steps, sim_time=self._sim(self.steps))
        if self.trigger is not None and self.trigger.reset():
            self._frame(self.env.render(), self.steps)
        return obs, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        rec, topics, step = self.recorder, self.topics, self.steps
        self.steps += 1
        rec.log(topics["action"], _as_record(action), step=step, sim_time=self._sim(step))
        rec.log(topics["obs"], _as_record(obs), step=step, sim_time=self._sim(step))
        rec.log(
            topics["step"],
            {"reward": float(reward), "terminated": bool(terminated), "truncated": bool(truncated)},
            step=step,
            sim_time=self._sim(step),
        )
        numeric = _numeric_info(info, None)
        if numeric:
            rec.log(topics["info"], numeric, step=step, sim_time=self._sim(step))
        self._return += float(reward)
        self._length += 1
        if terminated or truncated:
            episode = rec.episode_end(
                0,
                return_=self._return,
                length=self._length,
                success=_success(info),
                terminated=terminated,
                truncated=truncated,
                step=step,
                sim_time=self._sim(step),
            )
            self._stats(0, episode)
        if self.trigger is not None and self.trigger.step():
            self._frame(self.env.render(), step)
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._finish()


class RecordVectorRollout(gym.vector.VectorWrapper, _Rollout):
    """``RecordRollout`` for vector envs: [N, ...] records, per-env episodes, autoreset aware.

    All three autoreset modes (``env.metadata["autoreset_mode"]``) give the episodes Gymnasium's
    vector ``RecordEpisodeStatistics`` reports. With the default ``NEXT_STEP``, the step after an
    env's episode ends only resets that env: it is recorded with ``autoreset`` True and is not
    counted in any episode. With ``SAME_STEP`` the next episode starts at the next step; with
    ``DISABLED`` at the next step after ``reset(options={"reset_mask": ...})``. An Isaac Lab-style
    batched env (a single ``gym.Env`` with ``num_envs``) gets a ``RecordBatchedRollout`` with the
    same arguments.

    Frames follow vector ``RecordVideo``'s schedule and are every env's, tiled as it tiles them (a
    grid whose shape is nearest ``video_aspect_ratio``); ``record_first_only``: the first env's only;
    ``per_env_frames``: each env's on its own topic (``/camera/rl_video/env_2``), clips named
    ``<RecordVideo's name>-env-2`` (in the log and in ``video_folder``).
    """

    def __new__(cls, env: Any, *args: Any, **kwargs: Any) -> Any:
        return _batched_or_new(cls, RecordVectorRollout, env, args, kwargs)

    def __init__(
        self,
        env: gym.vector.VectorEnv,
        path_or_recorder: str | os.PathLike[str] | Recorder,
        *,
        record_frames: bool | None = None,
        video_folder: str | os.PathLike[str] | None = None,
        episode_trigger: Callable[[int], bool] | None = None,
        step_trigger: Callable[[int], bool] | None = None,
        video_length: int = 0,
        name_prefix: str = "rl-video",
        fps: int | float | None = None,
        disable_logger: bool = True,
        video_interval: int | None = None,
        video_aspect_ratio: tuple[float, float] = (1, 1),
        record_first_only: bool = False,
        per_env_frames: bool = False,
        topic_prefix: str = "/rollout",
        **recorder_kwargs: Any,
    ) -> None:
        gym.vector.VectorWrapper.__init__(self, env)
        trigger_args = dict(
            episode_trigger=episode_trigger,
            step_trigger=step_trigger,
            video_length=video_length,
            name_prefix=name_prefix,
            video_interval=video_interval,
        )
        video = dict(video_folder=video_folder, fps=fps, disable_logger=disable_logger)
        self._setup(env, path_or_recorder, record_frames, trigger_args, topic_prefix, recorder_kwargs, video)
        mode = env.metadata.get("autoreset_mode", gym.vector.AutoresetMode.NEXT_STEP)
        self.autoreset_mode = gym.vector.AutoresetMode(mode)
        n = self.num_envs
        if record_first_only and per_env_frames:
            raise ValueError("pass record_first_only or per_env_frames, not both")
        self.video_aspect_ratio = video_aspect_ratio
        self.record_first_only = record_first_only
        self.per_env_frames = per_env_frames
        self._grid_columns: int | None = None
        if per_env_frames:
            self._streams = [(f"{self.frame_topic}/env_{i}", f"-env-{i}") for i in range(n)]
        self._returns = np.zeros(n)
        self._lengths = np.zeros(n, dtype=np.int64)
        self._prev_dones = np.zeros(n, dtype=bool)

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict]:
        mask = None if options is None else options.get("reset_mask")
        # A copy: SyncVectorEnv pops "reset_mask" from the dict it gets, and a wrapper around this
        # one (Gymnasium's RecordEpisodeStatistics) reads it after us.
        obs, info = self.env.reset(seed=seed, options=None if options is None else dict(options))
        mask = np.ones(self.num_envs, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        rec = self.recorder
        rec.reset(np.flatnonzero(mask).tolist(), step=self.steps, sim_time=self._sim(self.steps))
        self._returns[mask] = 0.0
        self._lengths[mask] = 0
        self._prev_dones[mask] = False
        rec.log(self.topics["obs"], _as_record(obs), step=self.steps, sim_time=self._sim(self.steps))
        if self.trigger is not None and self.trigger.vector_reset(bool(mask[0])):
            self._frame(self.env.render(), self.steps)
        return obs, info

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict]:
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        rec, topics, step = self.recorder, self.topics, self.steps
        self.steps += 1
        rewards_np = np.asarray(rewards, dtype=np.float64)
        terms = np.asarray(terminations, dtype=bool)
        truncs = np.asarray(truncations, dtype=bool)
        dones = terms | truncs
        next_step = self.autoreset_mode == gym.vector.AutoresetMode.NEXT_STEP
        autoreset = self._prev_dones.copy() if next_step else np.zeros(self.num_envs, dtype=bool)
        if autoreset.any():  # these envs only reset: their next episode starts at the next step
            rec.reset(np.flatnonzero(autoreset).tolist(), step=step + 1, sim_time=self._sim(step + 1))
        live = ~autoreset
        self._returns[autoreset] = 0.0
        self._lengths[autoreset] = 0
        self._returns[live] += rewards_np[live]
        self._lengths[live] += 1
        rec.log(topics["action"], _as_record(actions), step=step, sim_time=self._sim(step))
        rec.log(topics["obs"], _as_record(obs), step=step, sim_time=self._sim(step))
        rec.log(
            topics["step"],
            {"reward": rewards_np, "terminated": terms, "truncated": truncs, "autoreset": autoreset},
            step=step,
            sim_time=self._sim(step),
        )
        numeric = _numeric_info(infos, self.num_envs)
        if numeric:
            rec.log(topics["info"], numeric, step=step, sim_time=self._sim(step))
        for i in np.flatnonzero(dones & live):
            episode = rec.episode_end(
                int(i),
                return_=float(self._returns[i]),
                length=int(self._lengths[i]),
                terminated=bool(terms[i]),
                truncated=bool(truncs[i]),
                step=step,
                sim_time=self._sim(step),
            )
            self._stats(int(i), episode)
        # A finished episode's sums start again: at once for SAME_STEP (the env already reset),
        # and harmlessly early for NEXT_STEP (the next step is a reset step) and DISABLED (reset()).
        self._returns[dones] = 0.0
        self._lengths[dones] = 0
        if next_step:
            self._prev_dones = dones
        if self.trigger is not None and self.trigger.vector_step(
            bool(dones[0]),
            self.autoreset_mode == gym.vector.AutoresetMode.SAME_STEP,
            disabled_autoreset=self.autoreset_mode == gym.vector.AutoresetMode.DISABLED,
        ):
            self._frame(self.env.render(), step)
        return obs, rewards, terminations, truncations, infos

    def _stream_frames(self, frame: Any) -> list[np.ndarray] | None:
        """Every env's frame (``render()`` gives one per env): tiled, the first only, or each."""
        from simrec_node.convert.frames import grid_columns, tile

        if not isinstance(frame, list | tuple) or not frame:
            return None
        frames = [np.asarray(f) for f in frame]
        if self.per_env_frames:
            return frames
        if self.record_first_only:
            return frames[:1]
        height, width = frames[0].shape[:2]
        if self._grid_columns is None:  # fixed by the first frames, as in RecordVideo
            self._grid_columns = grid_columns(len(frames), height, width, self.video_aspect_ratio)
        return [tile(frames, (width, height), self._grid_columns)]

    def close(self, **kwargs: Any) -> None:
        try:
            super().close(**kwargs)
        finally:
            self._finish()
