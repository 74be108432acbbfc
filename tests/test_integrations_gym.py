"""Gymnasium wrappers on real environments, checked against Gymnasium's own wrappers."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from gymnasium import spaces  # noqa: E402
from gymnasium.wrappers import RecordEpisodeStatistics  # noqa: E402
from gymnasium.wrappers.vector import RecordEpisodeStatistics as VectorRecordEpisodeStatistics  # noqa: E402

from simrec_node.integrations import (  # noqa: E402
    GYMNASIUM_NAMES,
    RecordRollout,
    RecordVectorRollout,
    capped_cubic_video_schedule,
)
from simrec_node.msgs import decode_image, decode_state_batch, decode_tensor  # noqa: E402

from .integrations_helpers import read_messages, read_metadata  # noqa: E402


def _gymnasium_schedule():
    """Gymnasium's capped_cubic_video_schedule, taken from its source (importing it needs moviepy)."""
    import gymnasium.utils

    source = (Path(gymnasium.utils.__file__).parent / "save_video.py").read_text()
    tree = ast.parse(source)
    func = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "capped_cubic_video_schedule"
    )
    namespace: dict = {}
    exec(compile(ast.Module([func], []), "save_video.py", "exec"), namespace)
    return namespace["capped_cubic_video_schedule"]


def test_default_schedule_is_gymnasiums():
    theirs = _gymnasium_schedule()
    assert [capped_cubic_video_schedule(i) for i in range(5000)] == [theirs(i) for i in range(5000)]


def _run_cartpole(env, episodes, seed):
    """Step with seeded random actions; return what the test saw per step."""
    seen = []
    rng = np.random.default_rng(seed)
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        done = False
        while not done:
            action = int(rng.integers(2))
            obs, reward, terminated, truncated, info = env.step(action)
            frame = env.render()
            seen.append((action, obs, reward, terminated, truncated, info, frame))
            done = terminated or truncated
    return seen


def test_cartpole_steps_stats_and_frames(tmp_path):
    path = tmp_path / "cartpole.mcap"
    env = RecordEpisodeStatistics(
        RecordRollout(
            gym.make("CartPole-v1", render_mode="rgb_array"),
            path,
            image_format="png",
            episode_trigger=lambda e: True,
        )
    )
    seen = _run_cartpole(env, episodes=3, seed=7)
    env.close()
    got = read_messages(path)

    actions = [decode_tensor(m.data).item() for m, _ in got["/rollout/action"]]
    assert actions == [s[0] for s in seen]
    steps = [msg for _, msg in got["/rollout/step"]]
    assert [s.values["reward"] for s in steps] == [s[2] for s in seen]
    assert [bool(s.values["terminated"]) for s in steps] == [s[3] for s in seen]
    assert [bool(s.values["truncated"]) for s in steps] == [s[4] for s in seen]
    assert [s.step for s in steps] == list(range(len(seen)))
    obs = [decode_tensor(m.data) for m, _ in got["/rollout/obs"]]
    assert len(obs) == len(seen) + 3  # one per reset too
    step_obs = [o for i, o in enumerate(obs) if i not in _reset_positions(seen)]
    for recorded, s in zip(step_obs, seen, strict=True):
        np.testing.assert_array_equal(recorded, s[1])

    # Episode statistics equal RecordEpisodeStatistics' for the same run.
    theirs = [s[5]["episode"] for s in seen if "episode" in s[5]]
    episodes = [msg for _, msg in got["/episodes"]]
    assert [(e.episode_return, e.length) for e in episodes] == [(float(t["r"]), int(t["l"])) for t in theirs]
    assert list(env.return_queue) == [e.episode_return for e in episodes]
    stats = [msg.values for _, msg in got["/rollout/episode_stats"]]
    assert [(s["r"], s["l"]) for s in stats] == [(float(t["r"]), float(t["l"])) for t in theirs]
    assert all(e.wall_time_s >= 0 for e in episodes)

    # Every frame (episode trigger always on): one per reset, one per step, equal to env.render().
    frames = [decode_image("foxglove.CompressedImage", m.data) for m, _ in got["/camera/rl_video"]]
    assert len(frames) == len(seen) + 3
    step_frames = [f for i, f in enumerate(frames) if i not in _reset_positions(seen)]
    for frame, s in zip(step_frames, seen, strict=True):
        np.testing.assert_array_equal(frame, s[6])
    clips = [values for name, values in read_metadata(path) if name == "simrec.clip"]
    assert [c["name"] for c in clips] == ["rl-video-episode-0", "rl-video-episode-1", "rl-video-episode-2"]


def _reset_positions(seen):
    """Indices, in the obs/frame streams, of the entries written at a reset."""
    starts = [0, *[i + 1 for i, s in enumerate(seen) if s[3] or s[4]][:-1]]
    return {start + k for k, start in enumerate(starts)}


def _record_video_schedule(episode_lengths, episode_trigger, step_trigger, video_length):
    """RecordVideo's reset/step logic transcribed from gymnasium 1.x: (name, frames) per saved clip."""
    video_length = video_length or float("inf")
    state = {"recording": False, "frames": 0, "name": None, "step_id": -1, "episode_id": -1}
    clips = []

    def stop():
        if state["frames"]:
            clips.append((state["name"], state["frames"]))
        state.update(recording=False, frames=0, name=None)

    def start(name):
        if state["recording"]:
            stop()
        state.update(recording=True, name=name)

    def capture():
        state["frames"] += 1
        if state["frames"] > video_length:
            stop()

    for length in episode_lengths:
        state["episode_id"] += 1
        if state["recording"] and video_length == float("inf"):
            stop()
        if episode_trigger and episode_trigger(state["episode_id"]):
            start(f"rl-video-episode-{state['episode_id']}")
        if state["recording"]:
            capture()
        for _ in range(length):
            state["step_id"] += 1
            if step_trigger and step_trigger(state["step_id"]):
                start(f"rl-video-step-{state['step_id']}")
            if state["recording"]:
                capture()
    if state["recording"]:
        stop()
    return clips


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # default: capped cubic on episodes 0, 1, 8
        {"step_trigger": lambda s: s % 25 == 0, "video_length": 10},
        {"video_interval": 40, "video_length": 5},
    ],
)
def test_frames_follow_record_video_schedule(tmp_path, kwargs):
    path = tmp_path / "sched.mcap"
    env = RecordRollout(gym.make("CartPole-v1", render_mode="rgb_array"), path, **kwargs)
    lengths = []
    rng = np.random.default_rng(1)
    for episode in range(10):
        env.reset(seed=episode)
        n, done = 0, False
        while not done:
            _, _, terminated, truncated, _ = env.step(int(rng.integers(2)))
            n += 1
            done = terminated or truncated
        lengths.append(n)
    env.close()
    step_trigger = kwargs.get("step_trigger")
    if "video_interval" in kwargs:
        interval = kwargs["video_interval"]
        step_trigger = lambda s: s % interval == 0  # noqa: E731 - Isaac Lab's trigger
    episode_trigger = None if step_trigger else _gymnasium_schedule()
    want = _record_video_schedule(lengths, episode_trigger, step_trigger, kwargs.get("video_length", 0))
    clips = [(c["name"], int(c["frames"])) for name, c in read_metadata(path) if name == "simrec.clip"]
    assert clips == want and clips
    if not kwargs:
        assert [name for name, _ in clips] == [
            "rl-video-episode-0",
            "rl-video-episode-1",
            "rl-video-episode-8",
        ]
    assert len(read_messages(path)["/camera/rl_video"]) == sum(n for _, n in want)


class DictEnv(gym.Env):
    """A tiny env with a Dict observation and a Box action."""

    observation_space = spaces.Dict(
        {
            "pos": spaces.Box(-10, 10, (3,), np.float32),
            "sensors": spaces.Dict({"contact": spaces.MultiBinary(2), "count": spaces.Discrete(100)}),
        }
    )
    action_space = spaces.Box(-1, 1, (3,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.pos = self.np_random.uniform(-1, 1, 3).astype(np.float32)
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        self.pos = (self.pos + action).astype(np.float32)
        reward = -float(np.linalg.norm(self.pos))
        return (
            self._obs(),
            reward,
            bool(abs(self.pos).max() > 3),
            self.t >= 20,
            {"dist": -reward, "is_success": self.t % 2 == 0},
        )

    def _obs(self):
        contact = (self.pos[:2] > 0).astype(np.int8)
        return {"pos": self.pos.copy(), "sensors": {"contact": contact, "count": self.t}}


def test_dict_observations_and_box_actions(tmp_path):
    path = tmp_path / "dict.mcap"
    env = RecordRollout(DictEnv(), path)
    obs, _ = env.reset(seed=3)
    seen = [obs]
    actions = []
    for _ in range(20):
        action = env.action_space.sample()
        actions.append(action)
        obs, _, terminated, truncated, _ = env.step(action)
        seen.append(obs)
        if terminated or truncated:
            break
    env.close()
    got = read_messages(path)
    batches = [decode_state_batch(m.data).tensors for m, _ in got["/rollout/obs"]]
    assert len(batches) == len(seen)
    for batch, obs in zip(batches, seen, strict=True):
        assert set(batch) == {"pos", "sensors/contact", "sensors/count"}
        np.testing.assert_array_equal(batch["pos"], obs["pos"])
        np.testing.assert_array_equal(batch["sensors/contact"], obs["sensors"]["contact"])
        assert batch["sensors/count"].item() == obs["sensors"]["count"]
    for (m, _), action in zip(got["/rollout/action"], actions, strict=True):
        np.testing.assert_array_equal(decode_tensor(m.data), action)
    infos = [msg.values for _, msg in got["/rollout/info"]]
    assert infos[0]["dist"] > 0 and set(infos[0]) == {"dist", "is_success"}
    episode = got["/episodes"][0][1]
    assert episode.HasField("success") and episode.length == len(actions)
    assert "/camera/rl_video" not in got  # render_mode None: no frames


def test_vector_env_autoreset_matches_vector_statistics(tmp_path):
    path = tmp_path / "vec.mcap"
    envs = gym.make_vec("CartPole-v1", num_envs=4, vectorization_mode="sync")
    assert envs.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    env = VectorRecordEpisodeStatistics(RecordVectorRollout(envs, path))
    env.reset(seed=11)
    env.action_space.seed(11)
    theirs = []
    rewards = []
    for _ in range(150):
        _, reward, _, _, info = env.step(env.action_space.sample())
        rewards.append(reward)
        if "episode" in info:
            for i in np.flatnonzero(info["_episode"]):
                theirs.append((int(i), float(info["episode"]["r"][i]), int(info["episode"]["l"][i])))
    env.close()
    got = read_messages(path)
    episodes = [msg for _, msg in got["/episodes"]]
    assert len(episodes) >= 4
    assert [(e.env_index, e.episode_return, e.length) for e in episodes] == theirs
    steps = [decode_state_batch(m.data) for m, _ in got["/rollout/step"]]
    assert len(steps) == 150
    for view, reward in zip(steps, rewards, strict=True):
        np.testing.assert_array_equal(view.tensors["reward"], reward)
    # The step after an env's episode ends is that env's reset step, marked and not counted.
    for t in range(1, 150):
        prev = steps[t - 1].tensors
        done = prev["terminated"] | prev["truncated"]
        np.testing.assert_array_equal(steps[t].tensors["autoreset"], done)
    for e in episodes:  # an episode starts after its env's reset step and spans `length` steps
        assert e.end_step - e.start_step + 1 == e.length
    assert decode_tensor(got["/rollout/obs"][0][0].data).shape == (4, 4)


@pytest.mark.parametrize("mode", ["NEXT_STEP", "SAME_STEP", "DISABLED"])
def test_vector_episodes_match_gymnasium_in_every_autoreset_mode(tmp_path, mode):
    autoreset = gym.vector.AutoresetMode[mode]
    path = tmp_path / f"vec_{mode}.mcap"
    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.make("CartPole-v1") for _ in range(3)], autoreset_mode=autoreset
    )
    env = VectorRecordEpisodeStatistics(RecordVectorRollout(envs, path))
    env.reset(seed=[3, 4, 5])
    env.action_space.seed(3)
    theirs = []
    for _ in range(200):
        _, _, terms, truncs, info = env.step(env.action_space.sample())
        if "episode" in info:
            for i in np.flatnonzero(info["_episode"]):
                theirs.append((int(i), float(info["episode"]["r"][i]), int(info["episode"]["l"][i])))
        dones = np.logical_or(terms, truncs)
        if autoreset == gym.vector.AutoresetMode.DISABLED and dones.any():
            env.reset(options={"reset_mask": dones})
    env.close()
    episodes = [msg for _, msg in read_messages(path)["/episodes"]]
    assert len(theirs) >= 10
    assert [(e.env_index, e.episode_return, e.length) for e in episodes] == theirs
    for e in episodes:  # each episode spans exactly its own steps
        assert e.end_step - e.start_step + 1 == e.length


def test_single_env_thirty_episodes_match_gymnasium(tmp_path):
    path = tmp_path / "cartpole30.mcap"
    env = RecordEpisodeStatistics(RecordRollout(gym.make("CartPole-v1"), path))
    rng = np.random.default_rng(30)
    theirs = []
    for episode in range(30):
        env.reset(seed=100 + episode)
        done = False
        while not done:
            _, _, terminated, truncated, info = env.step(int(rng.integers(2)))
            done = terminated or truncated
        theirs.append((float(info["episode"]["r"]), int(info["episode"]["l"])))
    env.close()
    got = read_messages(path)
    assert [(e.episode_return, e.length) for _, e in got["/episodes"]] == theirs
    stats = [msg.values for _, msg in got["/rollout/episode_stats"]]
    assert [(s["r"], int(s["l"])) for s in stats] == theirs
    # one naming on /episodes; Gymnasium's r, l, t beside it are the same numbers
    for s, (_, e) in zip(stats, got["/episodes"], strict=True):
        assert {k: s[k] for k in GYMNASIUM_NAMES} == {k: getattr(e, f) for k, f in GYMNASIUM_NAMES.items()}


def _video(path):
    """(frame count, fps) of an MP4, read back through ffmpeg."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    return sum(1 for _ in reader), meta["fps"]


def test_record_video_arguments_write_clips_and_record_render_fps(tmp_path, capsys):
    from simrec_node.cli.main import main

    path = tmp_path / "clips.mcap"
    videos = tmp_path / "videos"
    env = RecordRollout(
        gym.make("CartPole-v1", render_mode="rgb_array"),
        path,
        video_folder=videos,
        episode_trigger=lambda e: e in (0, 2),
        disable_logger=True,
    )
    lengths = [len(_run_cartpole(env, episodes=1, seed=seed)) for seed in (1, 2, 3)]
    env.close()
    clips = [values for name, values in read_metadata(path) if name == "simrec.clip"]
    assert [c["name"] for c in clips] == ["rl-video-episode-0", "rl-video-episode-2"]
    assert [c["fps"] for c in clips] == ["50", "50"]  # CartPole's render_fps
    assert sorted(p.name for p in videos.iterdir()) == ["rl-video-episode-0.mp4", "rl-video-episode-2.mp4"]
    for clip, length in zip(clips, (lengths[0], lengths[2]), strict=True):
        # as RecordVideo: the reset's frame, then one per step
        assert int(clip["frames"]) == length + 1
        assert _video(videos / f"{clip['name']}.mp4") == (length + 1, 50.0)
    # simrec convert with no flags makes the video at the recorded rate
    assert main(["convert", str(path), "-o", str(tmp_path / "all.mp4"), "-q"]) == 0
    assert _video(tmp_path / "all.mp4")[1] == 50.0

    other = RecordRollout(gym.make("CartPole-v1", render_mode="rgb_array"), tmp_path / "fps.mcap", fps=25)
    _run_cartpole(other, episodes=1, seed=4)
    other.close()
    assert [v["fps"] for n, v in read_metadata(tmp_path / "fps.mcap") if n == "simrec.clip"] == ["25"]
