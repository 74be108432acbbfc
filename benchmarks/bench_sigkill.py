"""Data lost when a recording process is SIGKILLed (``bench_recover.py`` times ``recover`` itself).

Run ``python benchmarks/bench_sigkill.py [--inprocess]``. Graph front end (default): a publisher
process sends numbered messages at a fixed rate; a ``simrec record`` process (default
``--flush-interval``, 1 s) records them and is SIGKILLed at a random moment, then ``simrec
recover`` rebuilds its file. Per kill: the messages a second subscriber (a witness in this
process) saw before the kill that are not in the recovered file, and the seconds between the
last recovered message's arrival (its log time) and the kill. ``--inprocess``: a simulation
recording itself with ``simrec_node.Recorder`` (state at 100 Hz, a camera at 30 Hz,
``tests/helpers/inprocess_sim.py``) is killed instead; its state steps are logged on a real-time
schedule, so the steps it had logged by the kill are known. Target: at most one flush interval.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout, uninstalled

from mcap.reader import make_reader  # noqa: E402

from simrec_node.graph import Node  # noqa: E402
from simrec_node.repair import recover  # noqa: E402

TOPIC = "/bench/kill"


def _env(domain: str) -> dict[str, str]:
    return {
        **os.environ,
        "SIMREC_DOMAIN": domain,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }


def _wait_for(stream, needle: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        if needle in line:
            return
    raise RuntimeError(f"never saw {needle!r}")


class Witness:
    """Arrival wall time of every message on TOPIC, seen by a second subscriber."""

    def __init__(self, domain: str) -> None:
        self.seen: dict[int, float] = {}
        self.lock = threading.Lock()
        self.node = Node("bench_witness", domain=domain)
        self.node.create_subscription(None, TOPIC, self._on)

    def _on(self, message) -> None:
        with self.lock:
            self.seen[message.sequence] = time.time()

    def before(self, t: float) -> set[int]:
        with self.lock:
            return {s for s, at in self.seen.items() if at < t}


def measure_loss(kills: int, rate: float, flush: float | None, workdir: Path) -> list[tuple[int, float]]:
    """``(messages lost, seconds lost)`` per kill."""
    domain = "bench" + uuid.uuid4().hex[:8]
    witness = Witness(domain)
    publisher = subprocess.Popen(
        [sys.executable, str(REPO / "tests/helpers/publisher.py"), "--topic", TOPIC, "--count", "10000000",
         "--rate", str(rate), "--linger", "0"],
        env=_env(domain), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    rng = random.Random()
    results = []
    try:
        _wait_for(publisher.stdout, "ready")
        for k in range(kills):
            out = workdir / f"kill{k}.mcap"
            cmd = [sys.executable, "-m", "simrec_node.cli.main", "record", TOPIC, "-o", str(out), "-q"]
            if flush is not None:
                cmd += ["--flush-interval", str(flush)]
            recorder = subprocess.Popen(cmd, env=_env(domain), stderr=subprocess.PIPE, text=True)
            _wait_for(recorder.stderr, "recording")
            time.sleep(rng.uniform(1.5, 4.0))
            killed_at = time.time()
            recorder.send_signal(signal.SIGKILL)
            recorder.wait()
            fixed = workdir / f"fixed{k}.mcap"
            recover(out, fixed)
            with open(fixed, "rb") as f:
                rows = [
                    (m.sequence, m.log_time) for _, _, m in make_reader(f).iter_messages(log_time_order=False)
                ]
            got = {s for s, _ in rows}
            first = min(got) if got else 0
            seen = {s for s in witness.before(killed_at) if s >= first}
            lost = len(seen - got)
            last = max((t for _, t in rows), default=0) / 1e9
            results.append((lost, killed_at - last if rows else float("inf")))
            print(
                f"kill {k + 1:2d}: {len(got):5d} recovered, {lost:4d} lost = {results[-1][1]:.2f} s",
                flush=True,
            )
            out.unlink(missing_ok=True)
            fixed.unlink(missing_ok=True)
    finally:
        publisher.kill()
        publisher.wait()
        witness.node.shutdown()
    return results


def measure_inprocess_loss(kills: int, workdir: Path) -> list[tuple[int, float]]:
    """``(state steps lost, seconds lost)`` per kill of an in-process recording."""
    rng = random.Random()
    results = []
    for k in range(kills):
        out = workdir / f"inproc{k}.mcap"
        sim = subprocess.Popen(
            [sys.executable, str(REPO / "tests/helpers/inprocess_sim.py"), str(out)],
            env=_env("unused"), stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        _wait_for(sim.stdout, "ready")
        started = time.monotonic()
        time.sleep(rng.uniform(1.5, 4.0))
        logged = int((time.monotonic() - started) * 100) + 1  # steps due by now (100 Hz, from 0)
        killed_at = time.time()
        sim.send_signal(signal.SIGKILL)
        sim.wait()
        fixed = workdir / f"inproc_fixed{k}.mcap"
        recover(out, fixed)
        with open(fixed, "rb") as f:
            rows = [(c.topic, m.log_time) for _, c, m in make_reader(f).iter_messages(log_time_order=False)]
        steps = sum(1 for topic, _ in rows if topic == "/sim/state")
        last = max((t for _, t in rows), default=0) / 1e9
        results.append((max(0, logged - steps), killed_at - last if rows else float("inf")))
        print(
            f"kill {k + 1:2d}: {steps:5d} steps recovered, ~{results[-1][0]:4d} lost"
            f" = {results[-1][1]:.2f} s",
            flush=True,
        )
        out.unlink(missing_ok=True)
        fixed.unlink(missing_ok=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--rate", type=float, default=200.0, help="publisher messages/s")
    parser.add_argument("--flush-interval", type=float, default=None, help="default: the recorder's (1 s)")
    parser.add_argument("--inprocess", action="store_true", help="kill an in-process Recorder instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_sigkill_") as tmp:
        workdir = Path(tmp)
        if args.inprocess:
            results = measure_inprocess_loss(args.kills, workdir)
            args.rate = 100.0
        else:
            results = measure_loss(args.kills, args.rate, args.flush_interval, workdir)
        lost = [n for n, _ in results]
        secs = [s for _, s in results]
        print(
            f"loss over {len(results)} kills at {args.rate:.0f} msg/s: messages max {max(lost)}, "
            f"median {statistics.median(lost)}; seconds before the kill max {max(secs):.2f}, "
            f"median {statistics.median(secs):.2f} (target: <= one flush interval)"
        )


if __name__ == "__main__":
    main()
