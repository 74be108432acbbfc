"""Isaac Lab-style batched torch envs recorded by RecordRollout: [N] batches, per-env episodes."""

from __future__ import annotations

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from simrec_node.convert import NpzOptions, convert_to_npz, open_log  # noqa: E402
from simrec_node.integrations import RecordBatchedRollout, RecordRollout, RecordVectorRollout  # noqa: E402

from .integrations_helpers import read_messages, read_metadata  # noqa: E402

NUM_ENVS, MAX_LENGTH, STEP_DT = 5, 9, 0.02


def _env_class(torch):
    """A small env shaped like Isaac Lab's DirectRLEnv: one gym.Env, torch tensors with a leading
    num_envs axis, finished envs reset inside step(), extras with [N] tensors and a "log" dict."""
    from gymnasium import spaces

    class PointsEnv(gym.Env):
        metadata = {"render_modes": [None, "rgb_array"], "render_fps": 50}  # noqa: RUF012 - gym.Env's

        def __init__(self, num_envs=NUM_ENVS, device="cpu", render_mode=None):
            self.num_envs, self.device, self.render_mode = num_envs, torch.device(device), render_mode
            self.step_dt = STEP_DT
            self.single_observation_space = spaces.Box(-np.inf, np.inf, (3,), np.float32)
            self.observation_space = spaces.Dict(
                {"policy": spaces.Box(-np.inf, np.inf, (num_envs, 3), np.float32)}
            )
            self.action_space = spaces.Box(-1, 1, (num_envs, 2), np.float32)
            self.generator = torch.Generator(device=self.device)
            self.pos = torch.zeros(num_envs, 2, device=self.device)
            self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long, device=self.device)

        def _reset_idx(self, env_ids):
            self.pos[env_ids] = (
                torch.rand(len(env_ids), 2, generator=self.generator, device=self.device) - 0.5
            )
            self.episode_length_buf[env_ids] = 0

        def _obs(self):
            length = self.episode_length_buf.float().unsqueeze(1) / MAX_LENGTH
            return {"policy": torch.cat([self.pos, length], dim=1)}

        def reset(self, *, seed=None, options=None):
            if seed is not None:
                self.generator.manual_seed(seed)
            self._reset_idx(torch.arange(self.num_envs, device=self.device))
            return self._obs(), {}

        def step(self, action):
            self.pos += action.to(self.device) * 0.5
            self.episode_length_buf += 1
            reward = (1.0 - self.pos.norm(dim=1)).to(torch.float32)
            terminated = self.pos.norm(dim=1) > 1.0
            truncated = self.episode_length_buf >= MAX_LENGTH
            extras = {"log": {"mean_reward": float(reward.mean())}, "time_outs": truncated.clone()}
            done = (terminated | truncated).nonzero().flatten()
            if len(done):
                self._reset_idx(done)
            return self._obs(), reward, terminated, truncated, extras

        def render(self):
            if self.render_mode != "rgb_array":
                return None
            frame = np.zeros((16, 24, 3), np.uint8)
            frame[..., 0] = int(self.episode_length_buf[0]) * 20
            return frame

    return PointsEnv


def _rollout(torch, env, steps, seed=3):
    """Reset, then step with seeded actions; keep (clones of) everything the env returned."""
    obs, _ = env.reset(seed=seed)
    seen = {"obs": [obs["policy"].clone()], "action": [], "reward": [], "terminated": [], "truncated": []}
    actions = torch.Generator().manual_seed(seed + 1)
    for _ in range(steps):
        action = torch.rand(NUM_ENVS, 2, generator=actions) * 2 - 1
        obs, reward, terminated, truncated, _ = env.step(action)
        for key, value in zip(
            ("obs", "action", "reward", "terminated", "truncated"),
            (obs["policy"], action, reward, terminated, truncated),
            strict=True,
        ):
            seen[key].append(value.clone())
    return {k: torch.stack(v).cpu().numpy() for k, v in seen.items()}


def _episodes_by_hand(seen):
    """(env, return, length, end step) per finished episode, summed here from the same rollout."""
    out = []
    returns, lengths = [0.0] * NUM_ENVS, [0] * NUM_ENVS
    for step, (reward, term, trunc) in enumerate(
        zip(seen["reward"], seen["terminated"], seen["truncated"], strict=True)
    ):
        for i in range(NUM_ENVS):
            returns[i] += float(reward[i])
            lengths[i] += 1
            if term[i] or trunc[i]:
                out.append((i, returns[i], lengths[i], step))
                returns[i], lengths[i] = 0.0, 0
    return out


@pytest.mark.torch
@pytest.mark.parametrize(
    ("wrapper", "device"),
    [(RecordRollout, "cpu"), (RecordVectorRollout, "cpu"), (RecordRollout, "cuda")],
)
def test_batched_torch_env_records_batches_and_per_env_episodes(tmp_path, wrapper, device):
    torch = pytest.importorskip("torch")
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device here")
    path = tmp_path / "batched.mcap"
    env = wrapper(_env_class(torch)(device=device), path)
    assert isinstance(env, RecordBatchedRollout) and isinstance(env, RecordRollout)
    seen = _rollout(torch, env, steps=40)
    env.close()

    got = read_messages(path)
    # One message per topic per step (plus the reset's observation), never one per env.
    assert len(got["/rollout/step"]) == 40 and len(got["/rollout/obs"]) == 41
    want = _episodes_by_hand(seen)
    assert len(want) > NUM_ENVS  # several episodes per env, terminated and truncated ones
    episodes = [m for _, m in got["/episodes"]]
    assert [(e.env_index, e.episode_return, e.length, e.end_step) for e in episodes] == want
    assert any(e.terminated for e in episodes) and any(e.truncated for e in episodes)
    for env_index in range(NUM_ENVS):  # numbered per env, starting right after the last one
        mine = [e for e in episodes if e.env_index == env_index]
        assert [e.episode_index for e in mine] == list(range(len(mine)))
        assert [e.start_step for e in mine] == [0] + [e.end_step + 1 for e in mine[:-1]]
    # Episode messages carry the sim time they ended at (Isaac Lab's step_dt).
    assert [m.publish_time for m, _ in got["/episodes"]] == [round(s * STEP_DT * 1e9) for *_, s in want]
    stats = [m for _, m in got["/rollout/episode_stats"]]
    assert [(int(s.values["env_index"]), s.values["r"], int(s.values["l"])) for s in stats] == [
        (i, pytest.approx(r), n) for i, r, n, _ in want
    ]

    # The NPZ and to_numpy give back the tensors the env returned, [T, N, ...].
    npz = tmp_path / "batched.npz"
    convert_to_npz(open_log(path), npz)
    with np.load(npz) as arrays:
        np.testing.assert_array_equal(arrays["/rollout/obs/tensors.policy"], seen["obs"])
        np.testing.assert_array_equal(arrays["/rollout/action/data"], seen["action"])
        np.testing.assert_array_equal(arrays["/rollout/step/tensors.reward"], seen["reward"])
        np.testing.assert_array_equal(arrays["/rollout/step/tensors.terminated"], seen["terminated"])
        assert arrays["/rollout/step/tensors.reward"].dtype == np.float32
        assert arrays["/rollout/info/tensors.time_outs"].shape == (40, NUM_ENVS)
        assert arrays["/rollout/info/tensors.log/mean_reward"].shape == (40,)
        np.testing.assert_array_equal(arrays["/episodes/length"], [n for _, _, n, _ in want])
    step = open_log(path).to_numpy("/rollout/step")
    np.testing.assert_array_equal(step["tensors.truncated"], seen["truncated"])
    np.testing.assert_array_equal(step["tensors.reward"], seen["reward"])
    short = convert_to_npz(open_log(path), tmp_path / "short.npz", NpzOptions(keys="short")).arrays
    np.testing.assert_array_equal(short["rollout/obs/policy"], seen["obs"])
    np.testing.assert_array_equal(short["rollout/action"], seen["action"])


@pytest.mark.torch
def test_batched_env_takes_isaac_lab_video_flags(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "video.mcap"
    # Isaac Lab's train scripts: --video_length 3 --video_interval 10.
    env = RecordRollout(_env_class(torch)(render_mode="rgb_array"), path, video_length=3, video_interval=10)
    _rollout(torch, env, steps=25)
    env.close()
    clips = [(c["name"], int(c["frames"])) for name, c in read_metadata(path) if name == "simrec.clip"]
    # RecordVideo's schedule: a clip starts at steps 0, 10, 20 and holds video_length + 1 frames.
    assert clips == [("rl-video-step-0", 4), ("rl-video-step-10", 4), ("rl-video-step-20", 4)]
    assert len(read_messages(path)["/camera/rl_video"]) == 12


@pytest.mark.torch
def test_batched_env_accepts_a_later_reset(tmp_path):
    """A reset mid-run restarts every env's sums: the open episodes are not reported."""
    torch = pytest.importorskip("torch")
    path = tmp_path / "reset.mcap"
    env = RecordRollout(_env_class(torch)(), path)
    first = _rollout(torch, env, steps=12)
    second = _rollout(torch, env, steps=12, seed=8)
    env.close()
    episodes = [m for _, m in read_messages(path)["/episodes"]]
    want = _episodes_by_hand(first) + [(i, r, n, s + 12) for i, r, n, s in _episodes_by_hand(second)]
    assert [(e.env_index, e.episode_return, e.length, e.end_step) for e in episodes] == want


@pytest.mark.torch
def test_vector_frame_options_on_a_batched_env_are_one_clear_error(tmp_path):
    torch = pytest.importorskip("torch")
    from simrec_node.errors import SimrecError

    path = tmp_path / "never.mcap"
    with pytest.raises(SimrecError, match="per_env_frames: for a vector env's per-env frames"):
        RecordVectorRollout(_env_class(torch)(), path, per_env_frames=True)
    assert not path.exists()
