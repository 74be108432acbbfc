"""RecordRollout beside Gymnasium's real RecordVideo: the same clips, episodes, frames and files.

Two CartPole envs run in lockstep (same seeds, same actions), one wrapped in
``gymnasium.wrappers.RecordVideo`` (which needs moviepy), one in ``RecordRollout``. RecordVideo's
raw frames are taken as it holds them (``recorded_frames``, before moviepy encodes them); simrec's
are read back from the log (lossless PNG) and from the MP4s it writes to ``video_folder``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from simrec_node.integrations import RecordRollout  # noqa: E402
from simrec_node.msgs import decode_image  # noqa: E402

from .integrations_helpers import read_messages, read_metadata  # noqa: E402


def _capturing_record_video(env, folder, **kwargs):
    """Gymnasium's RecordVideo, keeping (name, raw frames, episode ids) of every clip it saves."""
    from gymnasium.wrappers import RecordVideo

    class Capturing(RecordVideo):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            self.saved = []
            self._episodes = []

        def _capture_frame(self):
            before = len(self.recorded_frames)
            super()._capture_frame()
            self._episodes += [self.episode_id] * (len(self.recorded_frames) - before)

        def stop_recording(self):
            if self.recorded_frames:
                frames = [np.array(f, copy=True) for f in self.recorded_frames]
                self.saved.append((self._video_name, frames, sorted(set(self._episodes))))
            self._episodes = []
            super().stop_recording()

    return Capturing(env, str(folder), **kwargs)


def count_frames(path: Path) -> tuple[int, float, tuple[int, int]]:
    """(frames, fps, (width, height)) of an MP4, decoded by ffmpeg."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    return sum(1 for _ in reader), meta["fps"], tuple(meta["size"])


def simrec_clips(path: Path) -> list[tuple[str, list[np.ndarray], list[int], dict[str, str]]]:
    """(name, frames, episodes, record) per simrec.clip record, frames decoded from the log."""
    records = [values for name, values in read_metadata(path) if name == "simrec.clip"]
    messages = read_messages(path)
    out = []
    for record in records:
        topic_frames = messages[record["topic"]]
        first, count = int(record["first_frame"]), int(record["frames"])
        frames = [decode_image("foxglove.CompressedImage", m.data) for m, _ in topic_frames[first:][:count]]
        episodes = list(range(int(record["start_episode"]), int(record["end_episode"]) + 1))
        out.append((record["name"], frames, episodes, record))
    return out


def run_side_by_side(tmp_path: Path, episodes: int, seed: int, **kwargs):
    """Run both wrappers on twin CartPoles; return (theirs, ours, their folder, our folder, log)."""
    theirs_dir, ours_dir, log = tmp_path / "gymnasium", tmp_path / "simrec", tmp_path / "run.mcap"
    theirs = _capturing_record_video(gym.make("CartPole-v1", render_mode="rgb_array"), theirs_dir, **kwargs)
    ours = RecordRollout(
        gym.make("CartPole-v1", render_mode="rgb_array"),
        log,
        video_folder=ours_dir,
        image_format="png",
        **kwargs,
    )
    rng = np.random.default_rng(seed)
    for episode in range(episodes):
        obs_a, _ = theirs.reset(seed=seed + episode)
        obs_b, _ = ours.reset(seed=seed + episode)
        np.testing.assert_array_equal(obs_a, obs_b)
        done = False
        while not done:
            action = int(rng.integers(2))
            obs_a, _, term_a, trunc_a, _ = theirs.step(action)
            obs_b, _, term_b, trunc_b, _ = ours.step(action)
            np.testing.assert_array_equal(obs_a, obs_b)
            assert (term_a, trunc_a) == (term_b, trunc_b)
            done = term_a or trunc_a
    theirs.close()
    ours.close()
    return theirs.saved, simrec_clips(log), theirs_dir, ours_dir


CASES = {
    "default_schedule": dict(episodes=9, seed=0, kwargs={}),
    "episode_trigger": dict(episodes=7, seed=10, kwargs={"episode_trigger": lambda e: e % 3 == 1}),
    "step_trigger_length_crosses_resets": dict(
        episodes=8, seed=20, kwargs={"step_trigger": lambda s: s % 60 == 0, "video_length": 45}
    ),
    "step_trigger_to_episode_end": dict(episodes=5, seed=30, kwargs={"step_trigger": lambda s: s % 50 == 5}),
    "name_prefix": dict(
        episodes=4, seed=40, kwargs={"name_prefix": "cartpole-eval", "episode_trigger": lambda e: e in (0, 2)}
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_clips_frames_and_files_equal_record_videos(tmp_path, case):
    pytest.importorskip("moviepy")
    spec = CASES[case]
    theirs, ours, theirs_dir, ours_dir = run_side_by_side(
        tmp_path, spec["episodes"], spec["seed"], **spec["kwargs"]
    )
    assert theirs, "RecordVideo saved no clip: the case tests nothing"
    # the same clips, in order, spanning the same episodes, with the same number of frames
    assert [(name, len(frames), eps) for name, frames, eps in theirs] == [
        (name, len(frames), eps) for name, frames, eps, _ in ours
    ]
    if case == "step_trigger_length_crosses_resets":
        assert any(len(eps) > 1 for _, _, eps in theirs), "no clip crossed a reset"
    # each frame simrec recorded equals the raw frame RecordVideo held
    for (_, their_frames, _), (_, our_frames, _, record) in zip(theirs, ours, strict=True):
        for a, b in zip(their_frames, our_frames, strict=True):
            np.testing.assert_array_equal(a, b)
        assert float(record["fps"]) == 50  # CartPole's render_fps, as RecordVideo's default
    # the same MP4 files, each with as many frames, at the same rate and size
    names = sorted(p.name for p in theirs_dir.glob("*.mp4"))
    assert names == sorted(p.name for p in ours_dir.glob("*.mp4"))
    assert names == sorted(f"{name}.mp4" for name, _, _ in theirs)
    for name, frames, _ in theirs:
        ours_mp4 = count_frames(ours_dir / f"{name}.mp4")
        theirs_mp4 = count_frames(theirs_dir / f"{name}.mp4")
        assert ours_mp4[1:] == theirs_mp4[1:]  # rate and size
        assert ours_mp4[0] == len(frames)  # every frame RecordVideo captured
        # RecordVideo's own file: moviepy's int(sum(1/fps for each frame) * fps) frames, one short of
        # what it captured where that float sum rounds down (moviepy issue 2507)
        assert theirs_mp4[0] == moviepy_frame_count(len(frames), 50)


def moviepy_frame_count(frames: int, fps: float) -> int:
    """How many frames moviepy 2.x writes for ``frames`` images at ``fps`` (ImageSequenceClip)."""
    return int(sum(1.0 / fps for _ in range(frames)) * fps)


def test_moviepy_drops_a_frame_where_the_float_duration_rounds_down():
    """The cause of RecordVideo's shorter files, shown on moviepy itself: simrec writes all frames."""
    pytest.importorskip("moviepy")
    from moviepy.video.io.ImageSequenceClip import ImageSequenceClip

    images = [np.full((4, 4, 3), i, np.uint8) for i in range(12)]
    assert ImageSequenceClip(images, fps=50).n_frames == moviepy_frame_count(12, 50) == 11


def _capturing_vector_record_video(envs, folder, **kwargs):
    """Gymnasium's vector RecordVideo, keeping (name, tiled raw frames, episode ids) of each clip."""
    from gymnasium.wrappers.vector import RecordVideo

    class Capturing(RecordVideo):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            self.saved = []
            self._episodes = []

        def _capture_frame(self):
            super()._capture_frame()
            self._episodes.append(self.episode_id)

        def stop_recording(self):
            if self.recorded_frames:
                frames = [np.array(f, copy=True) for f in self.recorded_frames]
                self.saved.append((self._video_name, frames, sorted(set(self._episodes))))
            self._episodes = []
            super().stop_recording()

    return Capturing(envs, str(folder), **kwargs)


def _cartpoles(mode):
    return gym.vector.SyncVectorEnv(
        [lambda: gym.make("CartPole-v1", render_mode="rgb_array") for _ in range(3)],
        autoreset_mode=gym.vector.AutoresetMode[mode],
    )


def run_vector_side_by_side(tmp_path, mode, steps, video_kwargs, ours_kwargs=None):
    """Twin SyncVectorEnvs of 3 CartPoles, one in Gymnasium's vector RecordVideo, one in
    RecordVectorRollout; the same seeds and actions. Returns (theirs, our log)."""
    from simrec_node.integrations import RecordVectorRollout

    log = tmp_path / f"vec_{mode}.mcap"
    theirs = _capturing_vector_record_video(_cartpoles(mode), tmp_path / "gymnasium", **video_kwargs)
    ours = RecordVectorRollout(
        _cartpoles(mode), log, image_format="png", **video_kwargs, **(ours_kwargs or {})
    )
    theirs.reset(seed=[1, 2, 3])
    ours.reset(seed=[1, 2, 3])
    theirs.action_space.seed(5)
    for _ in range(steps):
        actions = theirs.action_space.sample()
        obs_a, _, terms, truncs, _ = theirs.step(actions)
        obs_b, *_ = ours.step(actions)
        np.testing.assert_array_equal(obs_a, obs_b)
        dones = np.logical_or(terms, truncs)
        if mode == "DISABLED" and dones.any():
            theirs.reset(options={"reset_mask": dones})
            ours.reset(options={"reset_mask": dones})
    theirs.close()
    ours.close()
    return theirs.saved, log


VECTOR_TRIGGERS = {
    "default_schedule": {},
    "step_trigger_length_crosses_resets": {"step_trigger": lambda s: s % 40 == 0, "video_length": 30},
}


@pytest.mark.parametrize("trigger", list(VECTOR_TRIGGERS))
@pytest.mark.parametrize("mode", ["NEXT_STEP", "SAME_STEP", "DISABLED"])
def test_vector_clips_tile_every_env_as_vector_record_video(tmp_path, mode, trigger):
    pytest.importorskip("moviepy")
    theirs, log = run_vector_side_by_side(tmp_path, mode, 90, VECTOR_TRIGGERS[trigger])
    ours = simrec_clips(log)
    assert len(theirs) >= 2, "too few clips to compare"
    assert [(name, len(frames), eps) for name, frames, eps in theirs] == [
        (name, len(frames), eps) for name, frames, eps, _ in ours
    ]
    for (_, their_frames, _), (_, our_frames, _, _) in zip(theirs, ours, strict=True):
        assert their_frames[0].shape == (400, 3 * 600, 3)  # three CartPoles side by side (1:1 is nearest)
        for a, b in zip(their_frames, our_frames, strict=True):
            np.testing.assert_array_equal(a, b)


def test_vector_first_env_only_and_per_env_frames(tmp_path):
    pytest.importorskip("moviepy")
    kwargs = {"episode_trigger": lambda e: e < 2}
    first, log = run_vector_side_by_side(
        tmp_path / "a", "NEXT_STEP", 60, {**kwargs, "record_first_only": True}
    )
    ours = simrec_clips(log)
    assert [(n, len(f)) for n, f, _ in first] == [(n, len(f)) for n, f, _, _ in ours]
    for (_, a, _), (_, b, _, _) in zip(first, ours, strict=True):
        np.testing.assert_array_equal(np.stack(a), np.stack(b))

    tiled, log = run_vector_side_by_side(tmp_path / "b", "NEXT_STEP", 60, kwargs, {"per_env_frames": True})
    ours = simrec_clips(log)  # one record per env and clip: name-env-i, on /camera/rl_video/env_i
    assert [(n, r["topic"]) for n, _, _, r in ours] == [
        (f"{name}-env-{i}", f"/camera/rl_video/env_{i}") for name, _, _ in tiled for i in range(3)
    ]
    for k, (_, frames, _) in enumerate(tiled):
        per_env = [ours[3 * k + i][1] for i in range(3)]
        for t, frame in enumerate(frames):  # the envs' own frames, side by side, are Gymnasium's tile
            np.testing.assert_array_equal(frame, np.concatenate([env[t] for env in per_env], axis=1))
