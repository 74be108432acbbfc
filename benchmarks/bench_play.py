"""`simrec play`: timing fidelity onto the graph, and seek latency of `play --serve`. Run:

    python benchmarks/bench_play.py [--reps 3] [--seconds 3] [--seek-mb 300] [--seeks 40]
    python benchmarks/bench_play.py --seek-only --log /tmp/camera.mcap --baseline /tmp/simrec-main

``--log`` keeps the seek log (written once when it is missing). ``--baseline DIR`` names another
checkout of simrec (``git worktree add /tmp/simrec-main main``): its ``play --serve`` and this
tree's serve the same log in turn, ``--reps`` rounds of ``--seeks`` seeks each, so the before and
after figures come from one run.

1. Timing fidelity: a 1 kHz topic played at rate 1.0 by `simrec play` (a subprocess), received
   by a subscriber here; the median absolute deviation of received inter-message spacing from
   the recorded 1 ms. Baseline in the same run: a bare Python loop publishing at 1 kHz with
   `time.sleep` on the same graph (what a hand-written replay script would do). Target < 1 ms.
2. Seek latency: `play --serve` on a log of camera-size messages (1 MiB, uncompressed, ~30 Hz),
   seeks to random times by the real @foxglove/ws-protocol client (tests/interop/seek_latency.mjs),
   from request to the first message at the new time. Target p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simrec_node.graph import Node, TypeInfo  # noqa: E402
from simrec_node.msgs import Scalars, descriptor_set_of  # noqa: E402
from simrec_node.record import McapWriter  # noqa: E402

INTEROP = REPO / "tests" / "interop"
T0 = 1_700_000_000_000_000_000


def env(domain: str, code: Path = REPO) -> dict:
    return {
        **os.environ,
        "SIMREC_DOMAIN": domain,
        "PYTHONPATH": os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")]),
        "PYTHONUNBUFFERED": "1",
    }


def write_khz_log(path: Path, seconds: float) -> int:
    count = int(seconds * 1000)
    with McapWriter(path) as w:
        ch = w.add_channel(
            "/fast", "protobuf", w.add_schema("simrec.Scalars", "protobuf", descriptor_set_of(Scalars))
        )
        for i in range(count):
            w.write(ch, i, T0 + i * 1_000_000, T0 + i * 1_000_000, b"\x08" + bytes([i % 128]))
    return count


def mad_ms(receive_ns: list[int]) -> float:
    gaps = [(b - a) / 1e6 for a, b in itertools.pairwise(receive_ns)]
    return statistics.median(abs(g - 1.0) for g in gaps)


def receive(domain: str, count: int, start: callable) -> list[int]:
    times: list[int] = []
    done = threading.Event()

    def on(msg) -> None:
        times.append(msg.receive_time_ns)
        if len(times) >= count:
            done.set()

    os.environ["SIMREC_DOMAIN"] = domain
    with Node("bench_listener", domain=domain) as node:
        node.create_subscription(None, "/fast", on)
        finish = start()
        done.wait(60)
        finish()
    return times


def simrec(*args: str) -> list[str]:
    return [sys.executable, "-m", "simrec_node.cli.main", *args]


def play_run(log: Path, count: int) -> float:
    domain = "b" + uuid.uuid4().hex[:10]

    def start():
        proc = subprocess.Popen(
            simrec(
                "play",
                str(log),
                "-q",
                "--disable-keyboard-controls",
                "--wait-for-subscribers",
                "5",
            ),
            env=env(domain),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return lambda: proc.wait(30)

    return mad_ms(receive(domain, count, start))


def sleep_loop_run(count: int) -> float:
    domain = "b" + uuid.uuid4().hex[:10]

    def start():
        def publish() -> None:
            with Node("naive", domain=domain) as node:
                pub = node.create_publisher(TypeInfo.of(Scalars), "/fast")
                pub.wait_for_subscribers(5)
                for i in range(count):
                    pub.publish(b"\x08" + bytes([i % 128]))
                    time.sleep(0.001)

        thread = threading.Thread(target=publish)
        thread.start()
        return lambda: thread.join(60)

    return mad_ms(receive(domain, count, start))


def write_camera_log(path: Path, megabytes: int) -> tuple[int, int]:
    frame = 1024 * 1024
    count = megabytes
    blob = os.urandom(frame + 4096)
    with McapWriter(path, compression="none", chunk_size=4 * 1024 * 1024) as w:
        cam = w.add_channel("/camera/raw", "protobuf", w.add_schema("custom.Frame", "protobuf", b""))
        small = w.add_channel(
            "/state", "protobuf", w.add_schema("simrec.Scalars", "protobuf", descriptor_set_of(Scalars))
        )
        for i in range(count):
            t = T0 + i * 33_333_333
            w.write(cam, i, t, t, blob[i % 4096 : i % 4096 + frame])
            w.write(small, i, t + 1, t + 1, b"\x08\x01")
    return T0, T0 + (count - 1) * 33_333_333 + 1


def seek_latencies(log: Path, start: int, end: int, seeks: int, code: Path = REPO) -> list[float]:
    """``seeks`` random seeks of a real @foxglove/ws-protocol client against ``play --serve`` of
    ``log`` run from the simrec checkout ``code``: ms from request to the first message."""
    domain = "b" + uuid.uuid4().hex[:10]
    proc = subprocess.Popen(
        simrec(
            "play",
            str(log),
            "--serve",
            "--port",
            "0",
            "--no-graph",
            "-q",
            "--disable-keyboard-controls",
        ),
        env=env(domain, code),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        url = re.search(r"ws://[\d.]+:\d+", line).group(0)
        out = subprocess.run(
            ["node", str(INTEROP / "seek_latency.mjs"), url, str(start), str(end), str(seeks)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        values = json.loads(out.stdout)
        assert all(v is not None for v in values), "a seek delivered nothing"
        return values
    finally:
        proc.terminate()
        proc.wait(30)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def camera_log(path: Path | None, tmp: str, megabytes: int) -> tuple[Path, int, int]:
    """The seek log and its first and last log time: ``path`` as it is when it exists (written
    by `write_camera_log` once), else a new one in ``tmp``."""
    cam = path or Path(tmp) / "camera.mcap"
    if path is None or not path.exists():
        write_camera_log(cam, megabytes)
    from simrec_node.logs import Log

    with Log(cam) as log:
        first, last = log.files[0].time_range()
    assert first is not None and last is not None
    return cam, first, last


def seek_report(name: str, latencies: list[float]) -> str:
    return (
        f"  {name:<10} median {statistics.median(latencies):6.1f} ms, p95 {p95(latencies):6.1f} ms, "
        f"max {max(latencies):6.1f} ms ({len(latencies)} seeks)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument(
        "--seek-mb", type=int, default=1100, help="size of the seek log (the issue asks >= 1 GB)"
    )
    parser.add_argument("--seeks", type=int, default=40)
    parser.add_argument("--seek-only", action="store_true", help="skip the timing-fidelity runs")
    parser.add_argument("--log", type=Path, help="the seek log: reused if it exists, else written there")
    parser.add_argument("--baseline", type=Path, help="another simrec checkout to compare seeks with")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.seek_only:
            log = Path(tmp) / "khz.mcap"
            count = write_khz_log(log, args.seconds)
            play, naive = [], []
            for _ in range(args.reps):  # alternate, so noise hits both alike
                play.append(play_run(log, count))
                naive.append(sleep_loop_run(count))
            print(f"timing fidelity, 1 kHz topic, {count} msgs, median of {args.reps}:")
            print(
                f"  simrec play      MAD from 1 ms spacing: {statistics.median(play):.3f} ms  (runs {play})"
            )
            print(
                f"  time.sleep loop  MAD from 1 ms spacing: {statistics.median(naive):.3f} ms  (runs {naive})"
            )
        cam, start, end = camera_log(args.log, tmp, args.seek_mb)
        size_mb = cam.stat().st_size / 1e6
        trees = {"this tree": REPO}
        if args.baseline is not None:
            trees = {"baseline": args.baseline.resolve(), **trees}
        found: dict[str, list[float]] = {name: [] for name in trees}
        for _ in range(args.reps if args.baseline is not None else 1):  # in turn: noise hits both
            for name, code in trees.items():
                found[name] += seek_latencies(cam, start, end, args.seeks, code)
        print(f"seek latency, play --serve, {size_mb:.0f} MB log of 1 MiB frames, random seeks:")
        for name, latencies in found.items():
            print(seek_report(name, latencies))
        if args.baseline is not None:
            ratio = p95(found["this tree"]) / p95(found["baseline"])
            print(f"p95 this tree / baseline: {ratio:.2f}x (goal <= 1x)")


if __name__ == "__main__":
    main()
