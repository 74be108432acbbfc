"""Record CartPole with simrec's Gymnasium wrapper, then turn the log into MP4 and NPZ.

pip install 'simrec[gymnasium]'
python examples/gym_cartpole.py            # writes cartpole.mcap
"""

from __future__ import annotations

import os
import shutil
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
    env.close()
    print(f"wrote {OUTPUT}")
    commands = [
        ["simrec", "info", OUTPUT],
        ["simrec", "convert", OUTPUT, "-o", "cartpole.mp4", "-t", "/camera/rl_video", "--overwrite"],
        ["simrec", "convert", OUTPUT, "-o", "cartpole.npz", "--overwrite"],
    ]
    has_convert = (
        shutil.which("simrec")
        and subprocess.run(["simrec", "convert", "--help"], capture_output=True).returncode == 0
    )
    for command in commands:
        if command[1] == "convert" and not has_convert:
            print("run:", " ".join(command))
            continue
        print("$", " ".join(command), flush=True)
        subprocess.run(command, check=False, stdout=sys.stdout)


if __name__ == "__main__":
    main()
