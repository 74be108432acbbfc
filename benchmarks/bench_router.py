"""A publisher and `simrec record` across two hosts through routers, against the same pair on one host.

Hosts are Linux network namespaces (root and iproute2; the netns helper of tests/), joined by
a veth pair with addresses assigned inside them (10.200.1.1-2/30), each with its own
`simrec router`. Four ways, alternated within each repetition, 100 B and 1 MiB messages:

- ``one host``: publisher and recorder in host A, peers of each other (1 MiB by shared memory);
- ``no shm``: the same with shared memory off (loopback TCP between the two);
- ``via router``: the same, both clients of A's router (no shared memory, one routing hop);
- ``across``: publisher in A, recorder in B, through A's and B's routers and the veth.

Throughput is the recorder's: messages over the span of their log times in the file (so
process start and file close do not count); ``lost`` is what the file lacks. Run (as root):

    python benchmarks/bench_router.py [--reps 3] [--small-count 200000] [--big-count 500]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

from mcap.reader import make_reader

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.netns import LOCAL_ROUTER, Hosts, why_no_namespaces  # noqa: E402

PUBLISHER = str(Path(__file__).resolve().parent / "path_publisher.py")
WAYS = ("one host", "no shm", "via router", "across")


def _configs(tmp: Path) -> dict[str, dict[str, str]]:
    """Each way's environment for the publisher and the recorder (beyond the graph domain)."""
    no_shm = {
        "mode": "peer",
        "listen": {"endpoints": ["tcp/127.0.0.1:0"]},
        "scouting": {"multicast": {"enabled": True, "interface": "lo"}},
        "transport": {"shared_memory": {"enabled": False}},
    }
    client = {
        "mode": "client",
        "connect": {"endpoints": [LOCAL_ROUTER]},
        "transport": {"shared_memory": {"enabled": False}},
    }
    (tmp / "no_shm.json5").write_text(json.dumps(no_shm))
    (tmp / "client.json5").write_text(json.dumps(client))
    return {
        "one host": {"SIMREC_ZENOH_CONNECT": LOCAL_ROUTER},
        "no shm": {"SIMREC_ZENOH_CONFIG": str(tmp / "no_shm.json5")},
        "via router": {"SIMREC_ZENOH_CONFIG": str(tmp / "client.json5")},
        "across": {"SIMREC_ZENOH_CONNECT": LOCAL_ROUTER},
    }


def one_run(
    hosts: Hosts, way: str, env: dict[str, str], output: Path, count: int, size: int
) -> tuple[float, int]:
    """(messages/s at the recorder, messages lost) for one flood of ``count`` messages."""
    env = {**env, "SIMREC_DOMAIN": "bench" + uuid.uuid4().hex[:8]}
    recorder_host = "b" if way == "across" else "a"
    recorder = hosts.start(
        recorder_host,
        *("record", "/bench/data", "-q", "-o", str(output), "--overwrite", "--stats-period", "0"),
        *("--max-messages", str(count), "--compression", "none", "--max-cache-size", str(1 << 30)),
        env=env,
    )
    recorder.wait_for("recording")
    publisher = hosts.spawn("a", [sys.executable, PUBLISHER, str(count), str(size)], env, stdin=-1)  # PIPE
    try:
        recorder.wait(300)
    finally:
        publisher.popen.stdin.close()  # it stays up until the recorder has everything
        publisher.wait(30)
    log_times = []
    with open(output, "rb") as f:
        log_times = [message.log_time for _s, _c, message in make_reader(f).iter_messages()]
    span_s = (max(log_times) - min(log_times)) / 1e9 if len(log_times) > 1 else float("nan")
    return (len(log_times) - 1) / span_s, count - len(log_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--small-count", type=int, default=200_000)
    parser.add_argument("--big-count", type=int, default=500)
    args = parser.parse_args()
    why_not = why_no_namespaces()
    if why_not:
        sys.exit(f"bench_router: {why_not}")
    hosts = Hosts()
    try:
        hosts.routed_line(["a", "b"])
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            envs = _configs(tmp)
            for label, size, count in (("100 B", 100, args.small_count), ("1 MiB", 1 << 20, args.big_count)):
                rates: dict[str, list[float]] = {way: [] for way in WAYS}
                lost: dict[str, list[int]] = {way: [] for way in WAYS}
                for _ in range(args.reps):
                    for way in WAYS:
                        rate, missing = one_run(hosts, way, envs[way], tmp / "run.mcap", count, size)
                        rates[way].append(rate)
                        lost[way].append(missing)
                base = statistics.median(rates["one host"])
                cells = []
                for way in WAYS:
                    median = statistics.median(rates[way])
                    cells.append(
                        f"{way} {median:,.0f} msg/s ({median * size / 1e6:,.0f} MB/s, "
                        f"{median / base:.2f}x, lost {sum(lost[way])})"
                    )
                print(f"{label:>6} x {count:,}, median of {args.reps}: " + "; ".join(cells), flush=True)
    finally:
        hosts.close()


if __name__ == "__main__":
    main()
