"""When to record frames: Gymnasium ``RecordVideo``'s schedule, without writing a video.

Same vocabulary and the same decisions as ``gymnasium.wrappers.RecordVideo`` (and its vector
twin): ``episode_trigger(episode_id)`` starts a clip at a reset, ``step_trigger(step_id)`` at a
step, ``video_length`` frames end it (0: the episode's end does), and with no trigger the capped
cubic schedule applies. ``video_interval`` is Isaac Lab's ``--video_interval`` (every N steps).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Clip", "VideoTrigger", "capped_cubic_video_schedule"]


def capped_cubic_video_schedule(episode_id: int) -> bool:
    """Episodes 0, 1, 8, 27, ..., 729, then every 1000th: Gymnasium's default trigger.

    A copy of ``gymnasium.utils.save_video.capped_cubic_video_schedule``, which cannot be
    imported without moviepy; the tests check the two agree.
    """
    if episode_id < 1000:
        return round(episode_id ** (1.0 / 3)) ** 3 == episode_id
    return episode_id % 1000 == 0


@dataclass
class Clip:
    """One recorded clip: its RecordVideo file name (without .mp4) and the frames it holds.

    ``first_frame`` is the number of frames captured before it (its first frame's index among all
    captured frames); ``end_episode`` the episode of its last frame (RecordVideo's episode count).
    """

    name: str
    start_episode: int
    start_step: int
    first_frame: int = 0
    frames: int = 0
    end_episode: int = -1


class VideoTrigger:
    """RecordVideo's recording state machine; the wrapper captures a frame whenever it says so.

    Call ``reset()`` / ``step()`` (or the ``vector_*`` pair for vector envs) where RecordVideo
    would, capture a frame when they return True, then call ``captured()``. Finished clips go to
    ``on_clip``.
    """

    def __init__(
        self,
        episode_trigger: Callable[[int], bool] | None = None,
        step_trigger: Callable[[int], bool] | None = None,
        video_length: int = 0,
        name_prefix: str = "rl-video",
        video_interval: int | None = None,
        on_clip: Callable[[Clip], None] | None = None,
    ) -> None:
        if video_interval is not None:
            if step_trigger is not None:
                raise ValueError("pass step_trigger or video_interval, not both")
            if video_interval <= 0:
                raise ValueError(f"video_interval must be positive, got {video_interval}")
            step_trigger = _every(video_interval)
        if episode_trigger is None and step_trigger is None:
            episode_trigger = capped_cubic_video_schedule
        if video_length < 0:
            raise ValueError(f"video_length must be >= 0, got {video_length}")
        self.episode_trigger = episode_trigger
        self.step_trigger = step_trigger
        self.video_length: float = video_length if video_length else math.inf
        self.name_prefix = name_prefix
        self.on_clip = on_clip
        self.episode_id = -1
        self.step_id = -1
        self.clip: Clip | None = None
        self.frames = 0  # frames captured so far, over all clips
        self._has_autoreset = False

    @property
    def recording(self) -> bool:
        return self.clip is not None

    def reset(self) -> bool:
        """A reset happened: maybe start a clip. True: capture this frame."""
        self.episode_id += 1
        if self.recording and self.video_length == math.inf:
            self.stop()
        if self.episode_trigger and self.episode_trigger(self.episode_id):
            self.start(f"{self.name_prefix}-episode-{self.episode_id}")
        return self.recording

    def step(self) -> bool:
        """A step happened: maybe start a clip. True: capture this frame."""
        self.step_id += 1
        return self._step_trigger()

    def vector_reset(self, first_env_reset: bool = True) -> bool:
        """Vector RecordVideo's reset: episodes are those of the first environment."""
        if first_env_reset:
            self.reset()
        self._has_autoreset = False
        return self.recording

    def vector_step(
        self, first_env_done: bool, same_step_autoreset: bool = False, *, disabled_autoreset: bool = False
    ) -> bool:
        """Vector RecordVideo's step: a new episode starts after the first env's episode ends (with
        autoreset disabled, only ``vector_reset`` starts one)."""
        self.step_id += 1
        if disabled_autoreset:
            pass
        elif same_step_autoreset:
            if first_env_done:
                self._new_vector_episode()
        else:
            if self._has_autoreset:
                self._new_vector_episode()
            self._has_autoreset = bool(first_env_done)
        return self._step_trigger()

    def captured(self) -> None:
        """A frame was captured; a clip of ``video_length`` + 1 frames ends (as in RecordVideo)."""
        self.clip.frames += 1
        self.clip.end_episode = self.episode_id
        self.frames += 1
        if self.clip.frames > self.video_length:
            self.stop()

    def start(self, name: str) -> None:
        if self.recording:
            self.stop()
        self.clip = Clip(name, self.episode_id, max(self.step_id, 0), first_frame=self.frames)

    def stop(self) -> None:
        clip, self.clip = self.clip, None
        if clip is not None and clip.frames and self.on_clip is not None:
            self.on_clip(clip)

    def _new_vector_episode(self) -> None:
        self.episode_id += 1
        if self.recording and self.video_length == math.inf:
            self.stop()
        if self.episode_trigger and self.episode_trigger(self.episode_id):
            self.start(f"{self.name_prefix}-episode-{self.episode_id}")

    def _step_trigger(self) -> bool:
        if self.step_trigger and self.step_trigger(self.step_id):
            self.start(f"{self.name_prefix}-step-{self.step_id}")
        return self.recording


def _every(interval: int) -> Callable[[int], bool]:
    def trigger(step_id: int) -> bool:
        return step_id % interval == 0

    return trigger
