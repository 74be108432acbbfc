"""What the live Foxglove view costs the recorder, in one run.

The recorder's whole path (path_publisher.py process -> Zenoh -> RecorderNode -> MCAP, as in
bench_record_path.py) in four variants, one run of each per round, the order alternating:

- ``plain``: the recorder alone (the baseline);
- ``again``: the recorder alone once more, as if it were a variant: the noise floor;
- ``idle``: with a LiveBridge tapping it and no client connected;
- ``client``: with a real Foxglove client (tests/interop/live_client.mjs, reading every message
  without decoding it, at nice 19) subscribed to the topic (``foxglove.sdk.v1``);
- ``old_client``: the same client offering only ``foxglove.websocket.v1`` (Foxglove Studio 1.x,
  Lichtblick before 1.22), whose frames the server's front reads and filters.

Each variant's figure is the median of its per-round throughput ratios to ``plain`` (runs a
few seconds apart share the machine's mood), with a bootstrap 95% interval of that median.
Each run is a process of its own, as each ``simrec record`` is (``run_in_fresh_process``), and
every variant's flood starts the same time after its recorder, whatever its setup took
(``FLOOD_AT_S``): see there why.
Single runs on a small VM scatter by up to +-40%: judge a figure on 20-30 rounds, and
against ``again``.

It first times ``LiveBridge.forward`` itself in a flood with a subscribed client (nearly every
message held back by the rate), against an empty call: what the live view adds to the
recorder's busiest thread per message, steadier than the throughput ratios on a noisy machine.

Run:  python benchmarks/bench_live.py [--reps 10] [--small-count 200000] [--big-count 500] (0 skips)
      [--live-mbps 64] [--live-rate 1000]  (the live view's limits; 0 lifts one)

Target (issue: live view): live forwarding costs at most 10% of the recorder's throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from page_cache import settle  # this folder (scripts run from it)
from path_publisher import TOPIC, spawn, start, time_until_written  # this folder (scripts run from it)

from simrec_node.graph import Node, RawMessage, TypeInfo
from simrec_node.live import DEFAULT_MAX_BYTES_PER_S, DEFAULT_MAX_RATE_HZ, LiveBridge, LiveOptions
from simrec_node.live.front import OLD_TOKEN
from simrec_node.msgs import Tensor, encode_tensor
from simrec_node.record import RecorderNode, RecordOptions, TopicSelection

HERE = Path(__file__).resolve().parent
CLIENT = HERE.parent / "tests" / "interop" / "live_client.mjs"
VARIANTS = ("plain", "again", "idle", "client", "old_client")
# Seconds from the recorder's start to the flood's, in every variant. Floods that began when
# their setup was done started ~0.5 s later with a client (it connects and subscribes first),
# and that alone set runs apart: in 8 rounds (after 40 runs in the same process) the recorder
# alone took a median 0.39 s, 0.53 s with its flood delayed by 0.6 s, 0.42 s with a client; the
# delayed runs' writer thread had more system time and I/O wait, as the client's had. Where
# the recorder's once-a-second flush and fdatasync fall in the flood is the likely cause.
FLOOD_AT_S = 3.0


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
    _fresh_domain()
    options = LiveOptions(port=0, backlog=256, max_bytes_per_s=budget, max_rate_hz=rate)
    bridge = LiveBridge(options) if variant in ("idle", "client", "old_client") else None
    recorder = RecorderNode(
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
            flood_at = time.monotonic() + FLOOD_AT_S
            # One message first, so the topic is advertised and a client can subscribe before
            # the timed burst (the same in every variant).
            prime = primer.create_publisher(TypeInfo.of(Tensor), TOPIC)
            prime.wait_for_subscribers(30)
            time.sleep(0.3)
            prime.publish(encode_tensor(np.zeros(1, np.uint8)))
            if variant in ("client", "old_client"):
                client = _subscribed_client(bridge, OLD_TOKEN if variant == "old_client" else None)
            publisher = spawn(count, size, hold=True)
            target = count + 1  # and the priming message
            late = time.monotonic() - flood_at
            if late > 0:
                print(f"  ({variant}: its setup took {late:.2f} s longer than FLOOD_AT_S)", flush=True)
            time.sleep(max(0.0, -late))
            cpu_before = _cpu_s()
            start(publisher)
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


def run_in_fresh_process(
    variant: str, path: Path, count: int, size: int, args: argparse.Namespace
) -> tuple[float, float, int, int]:
    """``run_once`` in a new process of this script, as each ``simrec record`` is one. A
    process that outlives its publishers keeps every one's shared-memory pool mapped
    (eclipse-zenoh/zenoh#2787): over 120 runs in one process every variant slowed, those with
    a live view most (1 MiB with a client: 0.35-0.44 s a run in the first 13 rounds, 0.49-0.87 s
    after, the recorder alone 0.34-0.59 s, then 0.38-0.68 s)."""
    command = [sys.executable, __file__, "--one", variant, str(path), str(count), str(size)]
    command += ["--compression", args.compression, "--live-mbps", str(args.live_mbps)]
    command += ["--live-rate", str(args.live_rate)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    lines = done.stdout.splitlines()
    print("\n".join(lines[:-1]), end="\n" if len(lines) > 1 else "", flush=True)
    elapsed, cpu, lost, forwarded = json.loads(lines[-1])
    return elapsed, cpu, lost, forwarded


def _fresh_domain() -> None:
    """A graph domain of this run's own: nothing left from another run reaches it."""
    os.environ["SIMREC_DOMAIN"] = "benchlive" + uuid.uuid4().hex[:8]


def _cpu_s() -> float:
    """CPU seconds of this process, every thread (the recorder's, the bridge's, Zenoh's and the
    server's): steadier than throughput on a noisy machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _subscribed_client(bridge: LiveBridge, token: str | None = None) -> subprocess.Popen:
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
            *(("--protocol", token) if token else ()),
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


def time_forward(rate: float | None, rounds: int = 7, calls: int = 300_000) -> tuple[float, float, int]:
    """Nanoseconds per ``LiveBridge.forward`` call and per empty call (medians of alternated
    rounds), with a Foxglove client subscribed, in a flood of one 100-byte topic; and how many
    messages went to the client."""
    _fresh_domain()
    bridge = LiveBridge(LiveOptions(port=0, max_rate_hz=rate))
    client = None
    with bridge, Node("bench_primer") as primer:
        primer.create_publisher(TypeInfo.of(Tensor), TOPIC)  # the schema the bridge looks up
        message = RawMessage(TOPIC, TypeInfo.of(Tensor).name, bytes(100), 1, 0, 0, 0)
        bridge.forward(message)  # asks for the channel
        try:
            client = _subscribed_client(bridge)
            forward = bridge.forward

            def empty(_message: RawMessage) -> None:
                pass

            times: dict[str, list[float]] = {"forward": [], "empty": []}
            for _ in range(rounds):
                for name, call in (("forward", forward), ("empty", empty)):
                    started = time.perf_counter_ns()
                    for _ in range(calls):
                        call(message)
                    times[name].append((time.perf_counter_ns() - started) / calls)
        finally:
            if client is not None:
                client.kill()
                client.wait()
    return statistics.median(times["forward"]), statistics.median(times["empty"]), bridge.forwarded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10, help="rounds (30 to judge the figure)")
    parser.add_argument("--compression", default="zstd", choices=["zstd", "lz4", "none"])
    parser.add_argument("--small-count", type=int, default=200_000, help="100 B messages a run (0: skip)")
    parser.add_argument("--big-count", type=int, default=500, help="1 MiB messages a run (0: skip)")
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
    one_run = ("VARIANT", "PATH", "COUNT", "SIZE")
    parser.add_argument("--one", nargs=4, metavar=one_run, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # one run, in a process of its own (run_in_fresh_process)
        variant, path, count, size = args.one
        budget, rate = args.live_mbps * 1e6 or None, args.live_rate or None
        result = run_once(variant, Path(path), int(count), int(size), args.compression, budget, rate)
        print(json.dumps(result))
        return

    forward_ns, empty_ns, sent = time_forward(args.live_rate or None)
    print(
        f"LiveBridge.forward in a 100 B flood with a client: {forward_ns:.0f} ns a message, "
        f"an empty call {empty_ns:.0f} ns: the live view adds {forward_ns:.0f} ns to the recorder's "
        f"subscriber thread ({sent} of the messages went to the client)",
        flush=True,
    )
    cases = [("100 B", 100, args.small_count), ("1 MiB", 1 << 20, args.big_count)]
    cases = [case for case in cases if case[2] > 0]
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
                    elapsed, cpu, n_lost, n_forwarded = run_in_fresh_process(variant, path, count, size, args)
                    settle(remove=[path])  # the next run starts on a flushed page cache
                    times[variant].append(elapsed)
                    cpu_us[variant].append(cpu / count * 1e6)
                    lost[variant].append(n_lost)
                    if variant == "client":
                        forwarded.append(n_forwarded)
            print(_report(label, count, times, cpu_us, lost, forwarded), flush=True)


def _report(
    label: str,
    count: int,
    times: dict[str, list[float]],
    cpu_us: dict[str, list[float]],
    lost: dict[str, list[int]],
    forwarded: list[int],
) -> str:
    """The case's figures: per-round ratios to ``plain``, CPU per message, losses, raw runs."""
    described = {
        "again": "the recorder alone again (noise floor)",
        "idle": "live view, no client",
        "client": "a subscribed client (target >= 0.9)",
        "old_client": "a subscribed foxglove.websocket.v1 client (target >= 0.9)",
    }
    lines = [
        f"{label} x {count}: recorder alone {count / statistics.median(times['plain']):,.0f} msg/s "
        f"(median of {len(times['plain'])}); lost {sum(map(sum, lost.values()))} in all",
    ]
    for variant, words in described.items():
        ratios = [plain / other for plain, other in zip(times["plain"], times[variant], strict=True)]
        low, high = _median_interval(ratios)
        lines.append(
            f"  {words}: {statistics.median(ratios):.3f} [{low:.3f}, {high:.3f}]"
            + (f", forwarded median {statistics.median(forwarded):,.0f}" if variant == "client" else "")
        )
    cpu = {v: statistics.median(cpu_us[v]) for v in VARIANTS}
    lines.append(
        "  recorder process CPU per message (median): "
        + ", ".join(f"{v} {cpu[v]:.1f} us" for v in VARIANTS)
        + f" (client/plain {cpu['client'] / cpu['plain']:.2f})"
    )
    runs = "; ".join(f"{v} {' '.join(f'{t:.2f}' for t in times[v])}" for v in VARIANTS)
    lines.append(f"  runs (s): {runs}")
    return "\n".join(lines)


def _median_interval(values: list[float], draws: int = 2000) -> tuple[float, float]:
    """A bootstrap 95% interval of the median of ``values`` (seeded: the same runs, the same interval)."""
    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(draws))
    return medians[int(draws * 0.025)], medians[int(draws * 0.975) - 1]


if __name__ == "__main__":
    main()
