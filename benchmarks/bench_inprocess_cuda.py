"""In-process recording of CUDA tensors: what ``rec.log`` costs a GPU step loop (needs a CUDA GPU).

1. A step loop whose GPU work takes ~5 ms per step, logging a [4096, 64] float32 state and a
   [4096] reward (both on the GPU) every step, against the same loop without recording, against
   logging ``tensor.cpu()`` (a synchronous copy, what users do when a recorder takes numpy only)
   and against lists of ``.cpu()`` copies + ``np.savez`` at the end. Two loop shapes: one that
   reads a scalar back every step (a sync point, as most RL loops have) and one that never syncs
   until the end (the GPU runs ahead of Python).
2. ``rec.log`` latency for that tensor vs ``tensor.cpu().numpy()`` + a memcpy of its bytes,
   with the GPU idle and with ~1 ms of GPU work queued ahead (median of 1000 calls).

Rounds alternate between variants; medians are reported.
Run: python benchmarks/bench_inprocess_cuda.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from simrec_node.integrations import Recorder

N, DIM = 4096, 64
STEPS = 200
ROUNDS = 5
WIDTH = 2048  # the matrix the fake simulator multiplies every step


def _make_work(device: torch.device) -> Callable[[torch.Tensor], None]:
    """About 5 ms of GPU time per call: the simulator's own step."""
    h = torch.randn(N, WIDTH, device=device) * 0.01
    w = torch.randn(WIDTH, WIDTH, device=device) / WIDTH**0.5
    tmp = torch.empty_like(h)
    reps = 1

    def work(state: torch.Tensor) -> None:
        for _ in range(reps):
            torch.matmul(h, w, out=tmp)
            torch.tanh(tmp, out=h)
        state.copy_(h[:, :DIM])

    state = torch.empty(N, DIM, device=device)
    work(state)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(20):
        work(state)
    torch.cuda.synchronize()
    reps = max(1, round(0.005 / ((time.perf_counter() - t0) / 20)))
    return work


def _loop(work, variant: str, sync_every_step: bool, tmp: Path) -> float:
    state = torch.zeros(N, DIM, device="cuda")
    reward = torch.zeros(N, device="cuda")
    rec = (
        Recorder(tmp / "loop.mcap", compression="none", overwrite=True) if variant.startswith("rec") else None
    )
    states, rewards = [], []
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for step in range(STEPS):
        work(state)
        reward.copy_(state[:, 0])
        if variant == "rec_cuda":
            rec.log("sim/state", state, step=step, sim_time=step * 0.01)
            rec.log("sim/reward", reward, step=step, sim_time=step * 0.01)
        elif variant == "rec_cpu":
            rec.log("sim/state", state.cpu(), step=step, sim_time=step * 0.01)
            rec.log("sim/reward", reward.cpu(), step=step, sim_time=step * 0.01)
        elif variant == "savez":
            states.append(state.cpu())
            rewards.append(reward.cpu())
        if sync_every_step:
            bool((reward > 10).any())  # reading a done flag back: the loop's own sync point
    torch.cuda.synchronize()
    if rec is not None:
        rec.close()
    if variant == "savez":
        np.savez(tmp / "loop.npz", state=torch.stack(states).numpy(), reward=torch.stack(rewards).numpy())
    return time.perf_counter() - t0


def bench_loop(tmp: Path) -> None:
    work = _make_work(torch.device("cuda"))
    variants = {
        "rec_cuda": "rec.log(cuda tensor)",
        "rec_cpu": "rec.log(tensor.cpu())",
        "savez": "lists of .cpu() + savez",
    }
    for sync_every_step in (True, False):
        times: dict[str, list[float]] = {"none": [], **{v: [] for v in variants}}
        _loop(work, "rec_cuda", sync_every_step, tmp)  # warm-up: pinned blocks, CUDA events
        for _ in range(ROUNDS):
            for variant in times:
                times[variant].append(_loop(work, variant, sync_every_step, tmp))
        base = statistics.median(times["none"])
        shape = "a sync every step" if sync_every_step else "no sync until the end"
        print(f"GPU step loop, {STEPS} steps of ~5 ms, {shape}, [{N},{DIM}] f32 + [{N}] f32 per step:")
        print(f"  {'no recording':26s} {base * 1e3:8.1f} ms")
        for variant, label in variants.items():
            t = statistics.median(times[variant])
            print(f"  {label:26s} {t * 1e3:8.1f} ms   slowdown {100 * (t / base - 1):+6.1f} %")


def _sleep_cycles_per_ms() -> float:
    """torch.cuda._sleep counts GPU clock cycles: measure how many make a millisecond here."""
    torch.cuda._sleep(1_000_000)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    torch.cuda._sleep(100_000_000)
    torch.cuda.synchronize()
    return 100_000_000 / ((time.perf_counter() - t0) * 1e3)


def bench_log_latency(tmp: Path) -> None:
    tensor = torch.randn(N, DIM, device="cuda")
    out = np.empty((N, DIM), np.float32)
    gpu_ms = 1.0
    cycles = int(gpu_ms * _sleep_cycles_per_ms())
    print(f"rec.log of a [{N},{DIM}] f32 CUDA tensor (median of 1000, calls 2 ms apart):")
    for label, busy in (("GPU idle", False), (f"~{gpu_ms:g} ms GPU work queued", True)):
        rec = Recorder(tmp / "latency.mcap", compression="none", overwrite=True)
        log_times, base_times = [], []
        for i in range(1000):
            if busy:
                torch.cuda._sleep(cycles)
            t0 = time.perf_counter_ns()
            rec.log("state", tensor, step=i)
            t1 = time.perf_counter_ns()
            torch.cuda.synchronize()
            if busy:
                torch.cuda._sleep(cycles)
            t2 = time.perf_counter_ns()
            np.copyto(out, tensor.cpu().numpy())
            t3 = time.perf_counter_ns()
            log_times.append(t1 - t0)
            base_times.append(t3 - t2)
            time.sleep(0.002)
        rec.close()
        lg, bs = statistics.median(log_times), statistics.median(base_times)
        print(
            f"  {label:26s} rec.log {lg / 1e3:7.1f} us, tensor.cpu().numpy() + memcpy {bs / 1e3:7.1f} us, "
            f"ratio {lg / bs:.2f}x"
        )


def main() -> int:
    if not torch.cuda.is_available():
        print(
            "bench_inprocess_cuda: no CUDA device here (torch.cuda.is_available() is False)", file=sys.stderr
        )
        return 2
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        bench_log_latency(Path(tmp))
        bench_loop(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
