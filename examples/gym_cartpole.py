"""Gymnasium, one env: record CartPole (steps, episodes, RecordVideo-scheduled frames) to an MCAP.

pip install 'simrec[gymnasium]'
python examples/gym_cartpole.py            # writes cartpole.mcap, then says what to run next
"""

from __future__ import annotations

import os

import gymnasium as gym

from simrec_node.integrations import RecordRollout

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # render off-screen
OUTPUT = "cartpole.mcap"


def main() -> None:
    env = gym.make("CartPole-v1", render_mode="rgb_array")
    # RecordVideo's arguments by the same names: a clip of every 5th episode.
    env = RecordRollout(env, OUTPUT, overwrite=True, episode_trigger=lambda episode: episode % 5 == 0)
    for episode in range(10):
        env.reset(seed=episode)
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            done = terminated or truncated
    env.close()
    print(f"wrote {OUTPUT}; next:")
    print(f"  simrec info {OUTPUT}")
    print(f"  simrec convert {OUTPUT} -o cartpole.npz --split-episodes --overwrite")
    print(f"  simrec convert {OUTPUT} -o cartpole.mp4 --topic /camera/rl_video --each-frame --overwrite")


if __name__ == "__main__":
    main()
