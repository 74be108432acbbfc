"""The ceiling one copy per payload sets for the recorder's 1 MiB path, with no Zenoh at all.

A subscriber in Python must copy each payload out of Zenoh (zenoh-python's ``ZBytes`` has no
buffer protocol), on its own thread, while the writer thread writes. This times simrec's
McapWriter three ways in one process, alternated:

- ``bare``: the writer alone, as bench_record_path.py's baseline;
- ``thread``: payloads handed over from a producer thread, as the recorder's queue does;
- ``thread + copy``: the producer thread copies each payload first, as the subscriber must.

Run:  python benchmarks/bench_copy_ceiling.py [--reps 5] [--count 1000]

``thread + copy`` over ``bare`` is as high as bench_record_path.py's 1 MiB ratio can go on this
machine (it still lacks the publisher process and Zenoh).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

from bench_record_path import bare_writer, payload_pool  # this folder (scripts run from it)
from page_cache import settle

from simrec_node.mcap.writer import McapWriter

SIZE = 1 << 20
_HELD = 48  # payloads waiting at most, as a bounded queue holds them


def through_a_thread(path: Path, pool: list[bytes], count: int, copy: bool) -> float:
    """Seconds for the writer to write ``count`` payloads that a producer thread hands over."""
    waiting: deque[bytes] = deque()
    changed = threading.Condition()
    finished = False

    def produce() -> None:
        nonlocal finished
        for i in range(count):
            payload = pool[i % len(pool)]
            data = memoryview(payload).tobytes() if copy else payload
            with changed:
                while len(waiting) >= _HELD:
                    changed.wait()
                waiting.append(data)
                changed.notify_all()
        with changed:
            finished = True
            changed.notify_all()

    started = time.perf_counter()
    producer = threading.Thread(target=produce)
    producer.start()
    with McapWriter(str(path), compression="zstd") as writer:
        channel = writer.add_channel("/bench", "protobuf", writer.add_schema("bench.Msg", "protobuf", b""))
        for sequence in range(count):
            with changed:
                while not waiting:
                    changed.wait()
                data = waiting.popleft()
                changed.notify_all()
            stamp = 1_000_000_000 + sequence
            writer.write(channel, sequence, stamp, stamp, data)
    producer.join()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    pool = payload_pool(args.count, SIZE)
    times: dict[str, list[float]] = {"bare": [], "thread": [], "thread + copy": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ceiling.mcap"
        for _ in range(args.reps):
            settle(remove=[path])
            times["bare"].append(bare_writer("simrec", path, pool, args.count, "zstd"))
            settle(remove=[path])
            times["thread"].append(through_a_thread(path, pool, args.count, copy=False))
            settle(remove=[path])
            times["thread + copy"].append(through_a_thread(path, pool, args.count, copy=True))
        settle(remove=[path])
    rates = {name: args.count * SIZE / 1e6 / statistics.median(runs) for name, runs in times.items()}
    print(
        f"1 MiB x {args.count}: "
        + ", ".join(f"{name} {rate:,.0f} MB/s ({rate / rates['bare']:.2f})" for name, rate in rates.items())
        + " (medians; runs in s: "
        + "; ".join(f"{name} {[f'{t:.2f}' for t in runs]}" for name, runs in times.items())
        + ")"
    )


if __name__ == "__main__":
    main()
