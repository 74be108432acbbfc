"""Record CartPole with simrec's Gymnasium wrapper, then turn the log into MP4 and NPZ.

pip install 'simrec[gymnasium]'
python examples/gym_cartpole.py            # writes cartpole.mcap
"""

from __future__ import annotations

import os
import subprocess
import sys

import gymnasium as gym

from simrec_node.integrations import RecordRollout

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # render off-screen
OUTPUT = "cartpole.mcap"


def main() -> None:
    env = gym.make("CartPole-v1", render_mode="rgb_array")
    env = RecordRollout(env, OUTPUT, overwrite=True, episode_trigger=lambda episode: episode % 5 == 0)
    for episode in range(20):
        env.reset(seed=episode)
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            done = terminated or truncated
    fps = str(env.metadata.get("render_fps", 30))  # clips of several episodes: joined at the env's rate
    env.close()
    print(f"wrote {OUTPUT}")
    simrec = [sys.executable, "-m", "simrec_node.cli.main"]
    for command in (
        ["info", OUTPUT],
        [
            "convert",
            OUTPUT,
            "-o",
            "cartpole.mp4",
            "--topic",
            "/camera/rl_video",
            "--each-frame",
            "--fps",
            fps,
            "--overwrite",
        ],
        ["convert", OUTPUT, "-o", "cartpole.npz", "--overwrite"],
    ):
        print("$ simrec", " ".join(command), flush=True)
        subprocess.run([*simrec, *command], check=True)


if __name__ == "__main__":
    main()
