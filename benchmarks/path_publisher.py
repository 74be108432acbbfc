"""Publisher process for bench_record_path.py: N tensor messages of about SIZE bytes, flat out."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from simrec_node.graph import Node, TypeInfo
from simrec_node.msgs import Tensor, encode_tensor


def main() -> None:
    count, size = int(sys.argv[1]), int(sys.argv[2])
    payload = encode_tensor(np.frombuffer(os.urandom(max(1, size - 10)), dtype=np.uint8))
    with Node("bench_publisher") as node:
        publisher = node.create_publisher(TypeInfo.of(Tensor), "/bench/data")
        if not publisher.wait_for_subscribers(30):
            sys.exit("no recorder appeared")
        time.sleep(0.5)  # let the subscription settle on every link
        print("ready", flush=True)
        publish = publisher.publish
        for _ in range(count):
            publish(payload)
        print("done", flush=True)
        sys.stdin.read()  # stay up until the benchmark has what it needs


if __name__ == "__main__":
    main()
