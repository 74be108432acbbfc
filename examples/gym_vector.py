"""Gymnasium, vector env: record 4 CartPoles as [4, ...] batches with per-env episodes.

pip install 'simrec[gymnasium]'
python examples/gym_vector.py              # writes cartpole_vector.mcap, then says what to run next
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from simrec_node.integrations import RecordVectorRollout

OUTPUT = "cartpole_vector.mcap"


def main() -> None:
    envs = gym.make_vec("CartPole-v1", num_envs=4, vectorization_mode="sync")
    envs = RecordVectorRollout(envs, OUTPUT, overwrite=True)  # autoreset-aware (NEXT_STEP here)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(300):
        envs.step(rng.integers(0, 2, size=4))
    envs.close()
    print(f"wrote {OUTPUT}; next:")
    print(f"  simrec info {OUTPUT}")
    print(f"  simrec convert {OUTPUT} -o cartpole_vector.npz --keys short --overwrite")


if __name__ == "__main__":
    main()
