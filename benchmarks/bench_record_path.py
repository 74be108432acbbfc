"""The recorder's whole path against the bare MCAP writer, in one run.

publisher process -> Zenoh (shared memory for big payloads) -> Recorder -> MCAP on disk,
compared with McapWriter writing the same bytes with no graph in between. Run:

    python benchmarks/bench_record_path.py [--reps 3] [--compression zstd]

Targets (issue: foundation): 1 MiB messages at >= 0.8x the bare writer; 100-byte messages
at >= 150,000 messages/s with none lost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from page_cache import settle  # this folder (scripts run from it)
from path_publisher import TOPIC, spawn, time_until_written  # this folder (scripts run from it)

from simrec_node.msgs import encode_tensor
from simrec_node.record import McapWriter, Recorder, RecordOptions, TopicSelection

_POOL_BYTES = 128 * 1024 * 1024


def bare_writer(path: Path, count: int, size: int, compression: str) -> float:
    # Distinct payloads, 128 MiB in all (more than any CPU cache), as a camera's frames would be:
    # re-writing one cache-hot buffer would flatter the baseline.
    pool = [
        encode_tensor(np.frombuffer(os.urandom(max(1, size - 10)), dtype=np.uint8))
        for _ in range(max(1, min(count, _POOL_BYTES // size, 4096)))
    ]
    started = time.perf_counter()
    with McapWriter(path, compression=compression) as writer:
        channel = writer.add_channel(
            "/bench/data", "protobuf", writer.add_schema("simrec.Tensor", "protobuf", b"")
        )
        write = writer.write
        for i in range(count):
            now = time.time_ns()
            write(channel, i, now, now, pool[i % len(pool)])
    return time.perf_counter() - started


def through_graph(
    path: Path, count: int, size: int, compression: str, cache: int, flush_interval_s: float = 1.0
) -> tuple[float, int]:
    """Seconds from the publisher's first message until the recorder has written the last."""
    domain = "bench" + uuid.uuid4().hex[:8]
    os.environ["SIMREC_DOMAIN"] = domain
    options = RecordOptions(
        output=path,
        selection=TopicSelection(all=True),
        compression=compression,
        max_queue_bytes=cache,
        flush_interval_s=flush_interval_s,
        stats_period_s=0,
    )
    recorder = Recorder(options)
    recorder.start()
    publisher = spawn(count, size)
    try:
        elapsed = time_until_written(recorder.stats, count)
        recorder.stop()
        lost = count - recorder.stats.topics[TOPIC].written
    finally:
        publisher.stdin.close()
        publisher.wait(timeout=30)
    return elapsed, lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--compression", default="zstd", choices=["zstd", "lz4", "none"])
    parser.add_argument("--small-count", type=int, default=300_000)
    parser.add_argument("--big-count", type=int, default=500)
    parser.add_argument("--dir", help="where to write the files (default: a temporary directory)")
    parser.add_argument(
        "--max-cache-size", type=int, default=RecordOptions.max_queue_bytes, help="recorder cache"
    )
    args = parser.parse_args()

    cases = [("1 MiB", 1 << 20, args.big_count), ("100 B", 100, args.small_count)]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for label, size, count in cases:
            bare, graph, losses = [], [], []
            bare_path, graph_path = Path(tmp) / "bare.mcap", Path(tmp) / "graph.mcap"
            for _ in range(args.reps):  # alternate so drift on a noisy machine hits both
                # Each run starts with the other's file gone, not only flushed: 500 MB of clean
                # page cache left over halved the next run's speed on the development VM.
                settle(remove=[graph_path])
                bare.append(bare_writer(bare_path, count, size, args.compression))
                settle(remove=[bare_path])
                elapsed, lost = through_graph(graph_path, count, size, args.compression, args.max_cache_size)
                graph.append(elapsed)
                losses.append(lost)
            settle(remove=[graph_path])
            bare_rate = count / statistics.median(bare)
            graph_rate = count / statistics.median(graph)
            print(
                f"{label:>6} x {count}: bare writer {bare_rate:,.0f} msg/s "
                f"({bare_rate * size / 1e6:,.0f} MB/s), "
                f"through the graph {graph_rate:,.0f} msg/s ({graph_rate * size / 1e6:,.0f} MB/s), "
                f"ratio {graph_rate / bare_rate:.2f}, lost {losses} "
                f"(runs: bare {[f'{t:.2f}' for t in bare]} s, graph {[f'{t:.2f}' for t in graph]} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
