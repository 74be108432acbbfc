"""Publisher process for the recording benchmarks: N tensor messages of about SIZE bytes, flat out.

Also what the benchmarks use to drive it: ``spawn`` starts it and waits until it is ready,
``start`` tells a held one to go, ``time_until_written`` times the recorder until it has written
(or dropped) every message.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from simrec_node.graph import Node, TypeInfo
from simrec_node.msgs import Tensor, encode_tensor

TOPIC = "/bench/data"


def spawn(count: int, size: int, hold: bool = False) -> subprocess.Popen:
    """Start the publisher and return once it is about to publish (with ``hold``, once it waits
    for ``start``); close its stdin to end it."""
    publisher = subprocess.Popen(
        [sys.executable, __file__, str(count), str(size), *(["--hold"] if hold else [])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]
            ),
        },
    )
    if publisher.stdout.readline().strip() != "ready":
        publisher.kill()
        raise RuntimeError("the benchmark publisher did not start")
    return publisher


def start(publisher: subprocess.Popen) -> None:
    """Let a publisher spawned with ``hold`` publish."""
    publisher.stdin.write("go\n")
    publisher.stdin.flush()


def time_until_written(stats: object, target: int, timeout_s: float = 300.0) -> float:
    """Seconds until ``stats`` (a recorder's RecordingStats) counts ``target`` messages of
    ``TOPIC`` written or dropped."""
    started = time.perf_counter()
    while time.perf_counter() < started + timeout_s:
        topic = stats.topics.get(TOPIC)
        if topic is not None and topic.written + topic.dropped >= target:
            break
        time.sleep(0.001)
    return time.perf_counter() - started


def main() -> None:
    count, size = int(sys.argv[1]), int(sys.argv[2])
    hold = "--hold" in sys.argv[3:]
    payload = encode_tensor(np.frombuffer(os.urandom(max(1, size - 10)), dtype=np.uint8))
    with Node("bench_publisher") as node:
        publisher = node.create_publisher(TypeInfo.of(Tensor), TOPIC)
        if not publisher.wait_for_subscribers(30):
            sys.exit("no recorder appeared")
        time.sleep(0.5)  # let the subscription settle on every link
        print("ready", flush=True)
        if hold and sys.stdin.readline().strip() != "go":
            return  # the benchmark gave up before the flood
        publish = publisher.publish
        for _ in range(count):
            publish(payload)
        print("done", flush=True)
        sys.stdin.read()  # stay up until the benchmark has what it needs


if __name__ == "__main__":
    main()
