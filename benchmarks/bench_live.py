"""What the live Foxglove view costs the recorder, in one run.

The recorder's whole path (path_publisher.py process -> Zenoh -> Recorder -> MCAP, as in
bench_record_path.py) in three variants, alternated and repeated:

- ``plain``: the recorder alone (the baseline);
- ``idle``: with a LiveBridge tapping it and no client connected;
- ``client``: with a real Foxglove client (tests/interop/live_client.mjs, reading every message
  without decoding it, at nice 19) subscribed to the topic.

Run:  python benchmarks/bench_live.py [--reps 3] [--small-count 200000] [--big-count 500]
      [--live-mbps 64] [--live-rate 1000]  (the live view's limits; 0 lifts one)

Target (issue: live view): live forwarding costs at most 10% of the recorder's throughput.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from page_cache import settle  # this folder (scripts run from it)
from path_publisher import TOPIC, spawn, time_until_written  # this folder (scripts run from it)

from simrec_node.graph import Node, TypeInfo
from simrec_node.live import DEFAULT_MAX_BYTES_PER_S, DEFAULT_MAX_RATE_HZ, LiveBridge, LiveOptions
from simrec_node.msgs import Tensor, encode_tensor
from simrec_node.record import Recorder, RecordOptions, TopicSelection

HERE = Path(__file__).resolve().parent
CLIENT = HERE.parent / "tests" / "interop" / "live_client.mjs"
VARIANTS = ("plain", "idle", "client")


def run_once(
    variant: str,
    path: Path,
    count: int,
    size: int,
    compression: str,
    budget: float | None,
    rate: float | None = DEFAULT_MAX_RATE_HZ,
) -> tuple[float, float, int, int]:
    """Seconds from the publisher's first message until the recorder has written the last, CPU
    seconds this process used meanwhile, messages lost, and messages handed to the live view."""
    domain = "benchlive" + uuid.uuid4().hex[:8]
    os.environ["SIMREC_DOMAIN"] = domain
    options = LiveOptions(port=0, backlog=256, max_bytes_per_s=budget, max_rate_hz=rate)
    bridge = LiveBridge(options) if variant != "plain" else None
    recorder = Recorder(
        RecordOptions(output=path, selection=TopicSelection(all=True), compression=compression),
        tap=bridge.forward if bridge else None,
    )
    if bridge:
        bridge.yield_to(recorder.is_behind)  # as `simrec record --serve` does
    client = publisher = None
    with Node("bench_primer") as primer:
        try:
            if bridge:
                bridge.start()
            recorder.start()
            # One message first, so the topic is advertised and a client can subscribe before
            # the timed burst (the same in every variant).
            prime = primer.create_publisher(TypeInfo.of(Tensor), TOPIC)
            prime.wait_for_subscribers(30)
            time.sleep(0.3)
            prime.publish(encode_tensor(np.zeros(1, np.uint8)))
            if variant == "client":
                client = _subscribed_client(bridge)
            publisher = spawn(count, size)
            target = count + 1  # and the priming message
            cpu_before = _cpu_s()
            elapsed = time_until_written(recorder.stats, target)
            cpu = _cpu_s() - cpu_before
        finally:
            recorder.stop()
            if publisher is not None:
                publisher.stdin.close()
                publisher.wait(timeout=30)
            if client is not None:
                client.kill()
                client.wait()
            if bridge:
                bridge.stop()
    lost = target - recorder.stats.topics[TOPIC].written
    return elapsed, cpu, lost, bridge.forwarded if bridge else 0


def _cpu_s() -> float:
    """CPU seconds of this process, every thread (the recorder's, the bridge's, Zenoh's and the
    server's): steadier than throughput on a noisy machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _subscribed_client(bridge: LiveBridge) -> subprocess.Popen:
    deadline = time.monotonic() + 30
    while TOPIC not in bridge.topics:
        assert time.monotonic() < deadline, "the bridge never advertised the topic"
        time.sleep(0.02)
    client = subprocess.Popen(
        # niced: on a small machine the viewer should yield the CPU to the recorder, as the
        # recorder never waits for it (a viewer that falls behind loses its oldest messages)
        [
            "nice",
            "-n",
            "19",
            "node",
            str(CLIENT),
            bridge.url,
            "--topic",
            TOPIC,
            "--no-decode",
            "--count",
            "1e12",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in client.stdout:
        if '"subscribed"' in line:
            break
    else:
        raise RuntimeError("the Foxglove client never subscribed")
    time.sleep(0.3)  # let the server register the subscription
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--compression", default="zstd", choices=["zstd", "lz4", "none"])
    parser.add_argument("--small-count", type=int, default=200_000)
    parser.add_argument("--big-count", type=int, default=500)
    parser.add_argument("--dir", help="where to write the files (default: a temporary directory)")
    parser.add_argument(
        "--live-mbps",
        type=float,
        default=DEFAULT_MAX_BYTES_PER_S / 1e6,
        help="the live view's budget for big messages, MB/s (0: none, every message to the client)",
    )
    parser.add_argument(
        "--live-rate",
        type=float,
        default=DEFAULT_MAX_RATE_HZ,
        help="the live view's messages/s per topic (0: none, every message to the client)",
    )
    args = parser.parse_args()

    # 100 B first: every publisher process of the 1 MiB case leaves its shared-memory pool mapped
    # in this process (eclipse-zenoh/zenoh#2787), which slowed the runs that came after it.
    cases = [("100 B", 100, args.small_count), ("1 MiB", 1 << 20, args.big_count)]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for label, size, count in cases:
            times: dict[str, list[float]] = {v: [] for v in VARIANTS}
            cpu_us: dict[str, list[float]] = {v: [] for v in VARIANTS}  # per message
            lost: dict[str, list[int]] = {v: [] for v in VARIANTS}
            forwarded: list[int] = []
            for rep in range(args.reps):
                order = VARIANTS if rep % 2 == 0 else VARIANTS[::-1]  # drift hits every variant
                for variant in order:
                    path = Path(tmp) / f"{variant}{rep}.mcap"
                    elapsed, cpu, n_lost, n_forwarded = run_once(
                        variant,
                        path,
                        count,
                        size,
                        args.compression,
                        args.live_mbps * 1e6 or None,
                        args.live_rate or None,
                    )
                    settle(remove=[path])  # the next run starts on a flushed page cache
                    times[variant].append(elapsed)
                    cpu_us[variant].append(cpu / count * 1e6)
                    lost[variant].append(n_lost)
                    if variant == "client":
                        forwarded.append(n_forwarded)
            rates = {v: count / statistics.median(times[v]) for v in VARIANTS}
            cpu = {v: statistics.median(cpu_us[v]) for v in VARIANTS}
            print(
                f"{label:>6} x {count}: recorder alone {rates['plain']:,.0f} msg/s; "
                f"with live view, no client {rates['idle']:,.0f} msg/s "
                f"(ratio {rates['idle'] / rates['plain']:.2f}); "
                f"with a subscribed client {rates['client']:,.0f} msg/s "
                f"(ratio {rates['client'] / rates['plain']:.2f}, forwarded {forwarded}); "
                f"lost {lost}; recorder process CPU per message (median): "
                + ", ".join(f"{v} {cpu[v]:.1f} us" for v in VARIANTS)
                + f" (client/plain {cpu['client'] / cpu['plain']:.2f}); runs (s): "
                + ", ".join(f"{v} {[f'{t:.2f}' for t in times[v]]}" for v in VARIANTS),
                flush=True,
            )


if __name__ == "__main__":
    main()
