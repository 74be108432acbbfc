"""What a link fault between two hosts does to a reliable publisher and to `simrec record`.

Two network namespaces (root and iproute2; the netns helper of tests/), each with a `simrec
router`, joined by a veth pair (10.200.1.1-2/30, assigned inside them). A reliable publisher
in host A sends 100 kB at 200 Hz (20 MB/s) to `simrec record` in host B; the veth goes down
for ``--down`` seconds mid-run. Printed: the longest a `publish` call blocked, what the
recorder wrote and counted as lost, and what the routers said. Run (as root):

    python benchmarks/bench_link_fault.py [--down 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.netns import LOCAL_ROUTER, Hosts, why_no_namespaces  # noqa: E402


def publish(size: int, rate_hz: float, duration_s: float) -> None:
    """The publisher's side (run in host A): reports each publish that blocked over 0.5 s."""
    import numpy as np

    from simrec_node.graph import Node, TypeInfo
    from simrec_node.msgs import Tensor, encode_tensor

    payload = encode_tensor(np.zeros(size, dtype=np.uint8))
    with Node("fault_publisher") as node:
        publisher = node.create_publisher(TypeInfo.of(Tensor), "/fault")
        publisher.wait_for_subscribers(30)
        time.sleep(0.5)
        print("go", flush=True)
        started = time.monotonic()
        worst, count = 0.0, 0
        while time.monotonic() - started < duration_s:
            before = time.monotonic()
            publisher.publish(payload)
            took = time.monotonic() - before
            if took > 0.5:
                print(f"publish blocked {took:.2f} s at {before - started:.1f} s", flush=True)
            worst = max(worst, took)
            count += 1
            time.sleep(max(0.0, 1 / rate_hz - (time.monotonic() - before)))
        print(f"published {count:,}; the longest publish took {worst:.2f} s", flush=True)
        time.sleep(2)  # what is still queued reaches the recorder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--down", type=float, default=8.0, help="seconds the link is down (default 8)")
    parser.add_argument("--duration", type=float, default=16.0, help="seconds of publishing (default 16)")
    parser.add_argument("--publish", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish:
        publish(100_000, 200.0, args.duration)
        return
    why_not = why_no_namespaces()
    if why_not:
        sys.exit(f"bench_link_fault: {why_not}")
    hosts = Hosts()
    try:
        router_a, router_b = hosts.routed_line(["a", "b"])
        env = {"SIMREC_DOMAIN": "fault" + uuid.uuid4().hex[:8], "SIMREC_ZENOH_CONNECT": LOCAL_ROUTER}
        with tempfile.TemporaryDirectory() as tmp:
            output = Path(tmp) / "fault.mcap"
            recorder = hosts.start(
                "b", "record", "/fault", "-q", "-o", str(output), "--stats-period", "0", env=env
            )
            recorder.wait_for("recording")
            command = [sys.executable, __file__, "--publish", "--duration", str(args.duration)]
            publisher = hosts.spawn("a", command, env)
            publisher.wait_for("go", 30)
            started = time.monotonic()
            time.sleep(3)
            hosts.set_link("a", "b", up=False)
            print(f"link down at {time.monotonic() - started:.1f} s", flush=True)
            time.sleep(args.down)
            hosts.set_link("a", "b", up=True)
            print(f"link up at {time.monotonic() - started:.1f} s", flush=True)
            publisher.wait(args.duration + 60)
            time.sleep(2)
            recorder.stop()
        for name, process in (("publisher", publisher), ("recorder", recorder), ("router A", router_a)):
            print(f"--- {name}\n{process.text.strip()}")
        print(f"--- router B\n{router_b.text.strip()}")
    finally:
        hosts.close()


if __name__ == "__main__":
    main()
