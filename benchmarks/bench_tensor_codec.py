"""Time the simrec tensor codec against a bare numpy copy / view of the same arrays.

Run ``python benchmarks/bench_tensor_codec.py``. The baselines are the floor any encoder has to
pay (``arr.tobytes()``: one copy) and the floor any decoder has to pay (``np.frombuffer`` plus
``reshape``: a zero-copy view), measured in the same process so the ratios are comparable
across machines. The target is every ratio within 3x.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from simrec_node.msgs.tensor_codec import (
    decode_state_batch,
    decode_tensor,
    encode_state_batch,
    encode_tensor,
)

NUM_ENVS, DOF = 4096, 64
TARGET_RATIO = 3.0


def _time(fn: Callable[[], object], repeat: int, min_seconds: float) -> tuple[float, float]:
    """Best and median seconds per call, with the loop count sized to ``min_seconds``."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    number = max(1, int(number * min_seconds / 0.2))
    runs = [t / number for t in timer.repeat(repeat=repeat, number=number)]
    return min(runs), statistics.median(runs)


def _batch() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "qpos": rng.standard_normal((NUM_ENVS, DOF), dtype=np.float32),
        "reward": rng.standard_normal(NUM_ENVS, dtype=np.float32),
        "done": rng.random(NUM_ENVS) < 0.01,
    }


def _cases() -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    """(name, codec call, baseline call) for each measured operation."""
    batch = _batch()
    qpos = batch["qpos"]
    tensor_bytes = encode_tensor(qpos)
    raw = qpos.tobytes()
    batch_bytes = encode_state_batch(batch, step=7, sim_time=0.07)
    raws = {k: (v.tobytes(), v.dtype, v.shape) for k, v in batch.items()}

    def batch_baseline_encode() -> object:
        return [v.tobytes() for v in batch.values()]

    def batch_baseline_decode() -> object:
        return {k: np.frombuffer(b, dtype=dt).reshape(shape) for k, (b, dt, shape) in raws.items()}

    return [
        ("tensor encode [4096,64] f32", lambda: encode_tensor(qpos), qpos.tobytes),
        (
            "tensor decode [4096,64] f32",
            lambda: decode_tensor(tensor_bytes),
            lambda: np.frombuffer(raw, dtype=np.float32).reshape(NUM_ENVS, DOF),
        ),
        (
            "state batch encode (3 tensors)",
            lambda: encode_state_batch(batch, step=7, sim_time=0.07),
            batch_baseline_encode,
        ),
        ("state batch decode (3 tensors)", lambda: decode_state_batch(batch_bytes), batch_baseline_decode),
    ]


def main() -> int:
    """Print best/median times and codec/baseline ratios; exit 1 if a ratio misses the target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--min-seconds", type=float, default=0.05, help="per repeat")
    args = parser.parse_args()
    print(
        f"{'operation':32} {'codec best':>11} {'median':>9} {'base best':>10} {'median':>9}"
        f" {'ratio best':>10} {'median':>7}"
    )
    worst = 0.0
    for name, codec, baseline in _cases():
        c_best, c_med = _time(codec, args.repeat, args.min_seconds)
        b_best, b_med = _time(baseline, args.repeat, args.min_seconds)
        ratio_best, ratio_med = c_best / b_best, c_med / b_med
        worst = max(worst, ratio_med)
        print(
            f"{name:32} {c_best * 1e6:9.2f}us {c_med * 1e6:7.2f}us {b_best * 1e6:8.2f}us"
            f" {b_med * 1e6:7.2f}us {ratio_best:9.2f}x {ratio_med:6.2f}x"
        )
    verdict = "within" if worst <= TARGET_RATIO else "OVER"
    print(f"worst median ratio {worst:.2f}x: {verdict} the {TARGET_RATIO:g}x target")
    return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
