"""Logs for the LeRobot export tests: an in-process sim with state, action, reward, a camera and
recorded episode ends; and a Gymnasium CartPole run through ``RecordRollout``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simrec_node import Recorder

DT = 0.02  # 50 Hz sim steps


def frame(step: int, height: int = 48, width: int = 64, cam: int = 0) -> np.ndarray:
    """A smooth frame that changes with ``step`` (H.264 keeps it within a few levels)."""
    y, x = np.mgrid[0:height, 0:width]
    r = (x * 255 // width + 3 * step) % 256
    g = (y * 255 // height + 40 * cam) % 256
    b = np.full_like(x, (37 * step) % 256)  # far from the frames around it
    return np.stack([r, g, b], -1).astype(np.uint8)


def sim_log(
    path: Path,
    lengths: tuple[int, ...] = (20, 15, 25),
    *,
    dim: int = 6,
    camera: bool = True,
    episodes: bool = True,
    sizes: tuple[tuple[int, int], ...] = ((48, 64),),
) -> dict[str, np.ndarray]:
    """Record episodes of ``lengths`` steps at 50 Hz: ``sim/state`` {qpos [dim], reward, done},
    ``sim/action`` [2], ``camera/front`` every step; each episode's end on ``/episodes``. Returns
    what was logged per step (state, action, reward, frames: one row per step)."""
    rng = np.random.default_rng(len(lengths) + dim)
    logged: dict[str, list] = {"state": [], "action": [], "reward": [], "frame": []}
    step = 0
    with Recorder(path, image_format="png") as rec:
        for length in lengths:
            ret = 0.0
            for k in range(length):
                t = step * DT
                qpos = rng.standard_normal(dim).astype(np.float32)
                action = rng.standard_normal(2).astype(np.float32)
                reward = float(k)
                done = k == length - 1
                rec.log(
                    "sim/state",
                    {"qpos": qpos, "reward": np.float32(reward), "done": done},
                    sim_time=t,
                    step=step,
                )
                rec.log("sim/action", action, sim_time=t, step=step)
                height, width = sizes[(step // 7) % len(sizes)]
                image = frame(step, height, width)
                if camera:
                    rec.log_image("camera/front", image, sim_time=t)
                logged["state"].append(qpos)
                logged["action"].append(action)
                logged["reward"].append(reward)
                logged["frame"].append(image)
                ret += reward
                if done and episodes:
                    rec.episode_end(0, return_=ret, sim_time=t, step=step)
                step += 1
    if len(sizes) > 1:
        del logged["frame"]
    return {k: np.stack(v) if k != "reward" else np.asarray(v, np.float32) for k, v in logged.items()}


def cartpole_log(path: Path, episodes: int = 3, seed: int = 0, trigger=lambda e: True) -> dict[str, list]:
    """CartPole through ``RecordRollout`` with every frame recorded; what each episode saw:
    observations before each action, the actions and rewards, per episode."""
    import gymnasium as gym

    from simrec_node.integrations import RecordRollout

    env = RecordRollout(gym.make("CartPole-v1", render_mode="rgb_array"), path, episode_trigger=trigger)
    rng = np.random.default_rng(seed)
    seen: dict[str, list] = {"obs": [], "action": [], "reward": []}
    obs, _ = env.reset(seed=seed)
    for _ in range(episodes):
        ep = {"obs": [], "action": [], "reward": []}
        while True:
            action = int(rng.integers(2))
            ep["obs"].append(obs)
            ep["action"].append(action)
            obs, reward, terminated, truncated, _ = env.step(action)
            ep["reward"].append(reward)
            if terminated or truncated:
                obs, _ = env.reset()
                break
        for key, value in ep.items():
            seen[key].append(np.asarray(value))
    env.close()
    return seen
