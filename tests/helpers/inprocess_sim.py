"""A simulation that records itself in-process: state at 100 Hz plus a camera at 30 Hz.

    python inprocess_sim.py OUTPUT [--seconds S] [--no-close] [--control]

Prints ``ready`` once the recorder is open, then runs in real time until ``--seconds`` pass
(forever by default: the SIGKILL test and benchmark kill it). Each state message carries its
step, so a reader can tell exactly which steps reached the file. ``--no-close`` exits without
``close()`` (the atexit handler must finish the file).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout

from simrec_node import Recorder

_FORGOTTEN: list[Recorder] = []


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("output")
    parser.add_argument("--seconds", type=float, default=float("inf"))
    parser.add_argument("--no-close", action="store_true")
    parser.add_argument("--control", action="store_true")
    args = parser.parse_args()
    rec = Recorder(args.output, control=args.control or None)
    state = np.zeros((64, 16), np.float32)
    frame = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    print("ready", flush=True)
    started = time.monotonic()
    step = 0
    while time.monotonic() - started < args.seconds:
        t = step / 100
        state += 0.01
        rec.log("sim/state", state, sim_time=t, step=step)
        if step % 3 == 0:
            rec.log_image("camera/rgb", frame, sim_time=t)
        step += 1
        time.sleep(max(0.0, started + step / 100 - time.monotonic()))
    print(f"steps {step}", flush=True)
    if args.no_close:
        _FORGOTTEN.append(rec)  # still referenced at exit: atexit, not the collector, finishes it
    else:
        rec.close()


if __name__ == "__main__":
    main()
