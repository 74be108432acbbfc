"""Isaac Lab-style batched torch env: one gym.Env stepping num_envs envs on the torch device.

The env below is shaped like Isaac Lab's DirectRLEnv (obs {"policy": [N, 4]}, reward /
terminated / truncated [N], finished envs reset inside step(), extras with "log" and
"time_outs"). With Isaac Lab, wrap your env the same way: RecordRollout(env, "run.mcap", ...).

pip install 'simrec[gymnasium]' torch
python examples/isaaclab_batched.py        # writes isaaclab.mcap, then says what to run next
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from simrec_node.integrations import RecordRollout

OUTPUT = "isaaclab.mcap"
NUM_ENVS = 64


class ReachEnv(gym.Env):
    """Points that move toward the origin; an episode ends on arrival or after 50 steps."""

    metadata = {"render_modes": [None, "rgb_array"], "render_fps": 30}  # noqa: RUF012 - gym.Env's

    def __init__(self, num_envs: int, device: str, render_mode: str | None = None) -> None:
        self.num_envs, self.device, self.render_mode = num_envs, torch.device(device), render_mode
        self.step_dt = 1 / 30  # Isaac Lab: sim dt x decimation
        self.max_episode_length = 50
        self.pos = torch.zeros(num_envs, 2, device=self.device)
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long, device=self.device)

    def _reset_idx(self, env_ids: torch.Tensor) -> None:
        self.pos[env_ids] = torch.rand(len(env_ids), 2, device=self.device) * 2 - 1
        self.episode_length_buf[env_ids] = 0

    def _obs(self) -> dict[str, torch.Tensor]:
        return {"policy": torch.cat([self.pos, -self.pos], dim=1)}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            torch.manual_seed(seed)
        self._reset_idx(torch.arange(self.num_envs, device=self.device))
        return self._obs(), {}

    def step(self, action: torch.Tensor):
        self.pos += 0.1 * action.clamp(-1, 1)
        self.episode_length_buf += 1
        distance = self.pos.norm(dim=1)
        reward = -distance
        terminated = distance < 0.1
        truncated = self.episode_length_buf >= self.max_episode_length
        extras = {"log": {"mean_distance": distance.mean()}, "time_outs": truncated}
        self._reset_idx((terminated | truncated).nonzero().flatten())
        return self._obs(), reward, terminated, truncated, extras

    def render(self) -> np.ndarray:
        frame = np.full((96, 96, 3), 255, np.uint8)
        for x, y in ((self.pos[:16].cpu().numpy() + 1) * 47).astype(int).clip(0, 94):
            frame[y : y + 2, x : x + 2] = (200, 30, 30)
        return frame


def main() -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    env = ReachEnv(NUM_ENVS, device, render_mode="rgb_array")
    # Isaac Lab's --video --video_length 60 --video_interval 100, as given:
    env = RecordRollout(env, OUTPUT, overwrite=True, video_length=60, video_interval=100)
    obs, _ = env.reset(seed=0)
    for _ in range(200):
        action = -obs["policy"][:, :2] + 0.3 * torch.randn(NUM_ENVS, 2, device=device)
        obs, *_ = env.step(action)
    env.close()
    print(f"wrote {OUTPUT}; next:")
    print(f"  simrec info {OUTPUT}")
    print(f"  simrec convert {OUTPUT} -o isaaclab.npz --keys short --overwrite")
    print(f"  simrec convert {OUTPUT} -o isaaclab.mp4 --topic /camera/rl_video --each-frame --overwrite")


if __name__ == "__main__":
    main()
