"""In-process recording cost: rec.log inside a batched step loop, against baselines in the same run.

1. Slowdown of a step loop (~5 ms of numpy work per step) that logs a [4096, 64] float32 state
   and a [4096] reward every step, vs the same loop without recording (target <= 10 %).
2. rec.log latency for a [4096, 64] float32 torch tensor vs ``tensor.cpu().numpy()`` + a memcpy
   of its bytes (median over 1000 calls, target < 2x).
3. vs what users do today: append copies to lists + ``np.savez`` at the end (state), and
   ``imageio`` MP4 writing vs ``rec.log_image`` (frames).

Rounds alternate between variants; medians are reported. Run: python benchmarks/bench_inprocess.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import torch
from compare_case import calibrate, make_work  # this folder (scripts run from it)

from simrec_node.integrations import Recorder

N, DIM = 4096, 64
STEPS = 200
ROUNDS = 5


def _loop(work, rec: Recorder | None) -> float:
    state = np.zeros((N, DIM), np.float32)
    reward = np.zeros(N, np.float32)
    t0 = time.perf_counter()
    for step in range(STEPS):
        work(state)
        reward[:] = state[:, 0]
        if rec is not None:
            rec.log("sim/state", state, step=step, sim_time=step * 0.01)
            rec.log("sim/reward", reward, step=step, sim_time=step * 0.01)
    if rec is not None:
        rec.close()
    return time.perf_counter() - t0


def _savez_loop(work, path: Path) -> float:
    state = np.zeros((N, DIM), np.float32)
    reward = np.zeros(N, np.float32)
    states, rewards = [], []
    t0 = time.perf_counter()
    for _ in range(STEPS):
        work(state)
        reward[:] = state[:, 0]
        states.append(state.copy())
        rewards.append(reward.copy())
    np.savez(path, state=np.stack(states), reward=np.stack(rewards))
    return time.perf_counter() - t0


def bench_loop(tmp: Path) -> None:
    work = make_work(N, DIM, calibrate(N, DIM, 0.005))  # about 5 ms: the simulator's own step
    plain, recorded, savez = [], [], []
    for r in range(ROUNDS):
        # Each round starts with no dirty pages and no old files: past ~140 MB of dirty page
        # cache this machine throttles writes, and writeback from an earlier round would land
        # in a later one (measured: +25-30 % unsettled against +7-12 % settled).
        for old in tmp.glob("loop*"):
            old.unlink()
        os.sync()
        plain.append(_loop(work, None))
        recorded.append(_loop(work, Recorder(tmp / f"loop{r}.mcap", compression="none")))
        savez.append(_savez_loop(work, tmp / f"loop{r}.npz"))
    p, rc, sz = (statistics.median(x) for x in (plain, recorded, savez))
    print(
        f"step loop, {STEPS} steps of ~5 ms, logging [{N},{DIM}] f32 + [{N}] f32 per step "
        f"(medians of {ROUNDS}):"
    )
    print(f"  no recording      {p * 1e3:8.1f} ms")
    print(f"  simrec Recorder   {rc * 1e3:8.1f} ms   slowdown {100 * (rc / p - 1):+.1f} %  (target <= 10 %)")
    print(f"  lists + np.savez  {sz * 1e3:8.1f} ms   slowdown {100 * (sz / p - 1):+.1f} %")
    print(f"  Recorder / savez  {rc / sz:.2f}x")


def bench_log_latency(tmp: Path) -> None:
    """rec.log's own cost, with calls a sim step apart (the writer keeps up, as in a real loop),
    and back to back (the queue fills and rec.log waits for the disk: a throughput figure)."""
    tensor = torch.randn(N, DIM)
    out = np.empty((N, DIM), np.float32)
    print(f"rec.log of a [{N},{DIM}] f32 torch tensor (median of 1000):")
    for label, pause_s in (("5 ms apart", 0.005), ("back to back", 0.0)):
        rec = Recorder(tmp / "latency.mcap", compression="none", overwrite=True)
        log_times, base_times = [], []
        for i in range(1000):
            t0 = time.perf_counter_ns()
            rec.log("state", tensor, step=i)
            t1 = time.perf_counter_ns()
            array = tensor.cpu().numpy()
            np.copyto(out, array)  # a memcpy of its bytes
            t2 = time.perf_counter_ns()
            log_times.append(t1 - t0)
            base_times.append(t2 - t1)
            if pause_s:
                time.sleep(pause_s)
        rec.close()
        lg, bs = statistics.median(log_times), statistics.median(base_times)
        print(
            f"  {label:13s} rec.log {lg / 1e3:7.1f} us, tensor.cpu().numpy() + memcpy {bs / 1e3:7.1f} us, "
            f"ratio {lg / bs:.2f}x  (target < 2x)"
        )


def bench_frames(tmp: Path) -> None:
    rng = np.random.default_rng(2)
    base = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    frames = [np.roll(base, i, axis=1) for i in range(100)]
    rec_t, mp4_t = [], []
    for r in range(3):
        t0 = time.perf_counter()
        with Recorder(tmp / f"frames{r}.mcap", compression="none") as rec:
            for i, frame in enumerate(frames):
                rec.log_image("camera/rgb", frame, sim_time=i / 30)
        rec_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with imageio.get_writer(tmp / f"frames{r}.mp4", fps=30, macro_block_size=1) as writer:
            for frame in frames:
                writer.append_data(frame)
        mp4_t.append(time.perf_counter() - t0)
    rc, mp = statistics.median(rec_t), statistics.median(mp4_t)
    print("100 frames 320x240 (medians of 3):")
    print(f"  rec.log_image (JPEG)  {rc * 1e3:7.1f} ms")
    print(f"  imageio MP4 writer    {mp * 1e3:7.1f} ms")
    print(f"  ratio {rc / mp:.2f}x")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bench_log_latency(Path(tmp))
        bench_loop(Path(tmp))
        bench_frames(Path(tmp))


if __name__ == "__main__":
    main()
