"""A batched torch "simulator" (4096 environments on a GPU, 256 on the CPU), recorded in-process
with rec.log / rec.add: the plain API under every wrapper.

python examples/batched_torch_sim.py      # writes batched.mcap, then says what to run next
"""

from __future__ import annotations

import torch

from simrec_node import Recorder

DIM, DT = 32, 0.01
device = "cuda" if torch.cuda.is_available() else "cpu"
NUM_ENVS = 4096 if device == "cuda" else 256


def main() -> None:
    qpos = torch.zeros(NUM_ENVS, DIM, device=device)
    qvel = torch.randn(NUM_ENVS, DIM, device=device)
    episode_return = torch.zeros(NUM_ENVS, device=device)
    with Recorder("batched.mcap", overwrite=True) as rec:
        rec.add(lambda: {"qpos": qpos, "qvel": qvel}, "sim/state", hz=50)  # sampled at 50 Hz sim time
        for step in range(200):
            sim_time = step * DT
            action = -0.1 * qpos
            qvel.add_(action * DT)
            qpos.add_(qvel * DT)  # buffers change in place: the recorder copied them already
            reward = -qpos.norm(dim=1)
            episode_return += reward
            rec.log("sim/action", action, sim_time=sim_time, step=step)
            rec.log("sim/reward", reward, sim_time=sim_time, step=step)
            rec.step(sim_time=sim_time, step=step)
            done = (qpos.abs().max(dim=1).values > 2.0).nonzero().flatten().tolist()
            for i in done[:16]:  # report a few episode ends per step
                rec.episode_end(i, return_=float(episode_return[i]), terminated=True)
                episode_return[i] = 0
                qpos[i] = 0
                rec.reset(i)
    print(f"wrote batched.mcap ({rec.stats.written} messages, {rec.stats.dropped} dropped); next:")
    print("  simrec info batched.mcap")
    print("  simrec convert batched.mcap -o batched.npz -t /sim/state --keys short --overwrite")


if __name__ == "__main__":
    main()
