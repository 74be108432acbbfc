"""The recorder's whole path against the bare MCAP writer, in one run.

publisher process -> Zenoh (shared memory for big payloads) -> RecorderNode -> MCAP on disk,
compared with McapWriter writing the same bytes with no graph in between (and, with
``--library-writers``, with mcap's Writer and foxglove-sdk's MCAPWriter, the two writers the
foundation issue named). Run:

    python benchmarks/bench_record_path.py [--reps 3] [--compression zstd] [--library-writers]

Targets (issue: foundation): 1 MiB messages at >= 0.8x the bare writer; 100-byte messages
at >= 150,000 messages/s with none lost.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from bench_mcap_writers import WRITERS  # this folder (scripts run from it)
from page_cache import settle
from path_publisher import TOPIC, spawn, time_until_written  # this folder (scripts run from it)

from simrec_node.msgs import encode_tensor
from simrec_node.record import RecorderNode, RecordOptions, TopicSelection

_POOL_BYTES = 128 * 1024 * 1024


def payload_pool(count: int, size: int) -> list[bytes]:
    """Distinct payloads, 128 MiB in all (more than any CPU cache), as a camera's frames would be:
    re-writing one cache-hot buffer would flatter the baseline."""
    return [
        encode_tensor(np.frombuffer(os.urandom(max(1, size - 10)), dtype=np.uint8))
        for _ in range(max(1, min(count, _POOL_BYTES // size, 4096)))
    ]


def bare_writer(writer: str, path: Path, pool: list[bytes], count: int, compression: str) -> float:
    """Seconds for ``writer`` (a name in bench_mcap_writers.WRITERS) to write ``count`` messages.

    Writers other than simrec's run in a forked child: what they leave behind in this process
    (foxglove-sdk's runtime threads, freed buffers) halved the graph runs that followed.
    """
    if writer == "simrec":
        return _time_writer(writer, path, pool, count, compression)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=lambda: sender.send(_time_writer(writer, path, pool, count, compression)))
    child.start()
    elapsed = receiver.recv()
    child.join()
    return elapsed


def _time_writer(writer: str, path: Path, pool: list[bytes], count: int, compression: str) -> float:
    started = time.perf_counter()
    WRITERS[writer](str(path), compression, pool, count)
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
    recorder = RecorderNode(options)
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
    parser.add_argument(
        "--library-writers",
        action="store_true",
        help="also time mcap's Writer and foxglove-sdk's MCAPWriter bare on the same payloads",
    )
    args = parser.parse_args()
    if args.library_writers and args.compression == "lz4":
        parser.error("--library-writers compares zstd or none (the bench_mcap_writers peers)")
    baselines = ["simrec", "mcap", "foxglove"] if args.library_writers else ["simrec"]

    # 100 B first: every publisher process of the 1 MiB case leaves its shared-memory pool mapped
    # in this process (eclipse-zenoh/zenoh#2787), which slowed the runs that came after it.
    cases = [("100 B", 100, args.small_count), ("1 MiB", 1 << 20, args.big_count)]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for label, size, count in cases:
            pool = payload_pool(count, size)
            bare: dict[str, list[float]] = {name: [] for name in baselines}
            graph, losses = [], []
            bare_path, graph_path = Path(tmp) / "bare.mcap", Path(tmp) / "graph.mcap"
            for _ in range(args.reps):  # alternate so drift on a noisy machine hits both
                for name in baselines:
                    # Each run starts with the other runs' files gone, not only flushed: 500 MB of
                    # clean page cache left over halved the next run's speed on the development VM.
                    settle(remove=[bare_path, graph_path])
                    bare[name].append(bare_writer(name, bare_path, pool, count, args.compression))
                settle(remove=[bare_path])
                elapsed, lost = through_graph(graph_path, count, size, args.compression, args.max_cache_size)
                graph.append(elapsed)
                losses.append(lost)
            settle(remove=[graph_path])
            graph_rate = count / statistics.median(graph)
            rates = {name: count / statistics.median(times) for name, times in bare.items()}
            others = "".join(
                f", bare {name} {rates[name] * size / 1e6:,.0f} MB/s (graph/{name} "
                f"{graph_rate / rates[name]:.2f})"
                for name in baselines[1:]
            )
            print(
                f"{label:>6} x {count}: bare writer {rates['simrec']:,.0f} msg/s "
                f"({rates['simrec'] * size / 1e6:,.0f} MB/s), "
                f"through the graph {graph_rate:,.0f} msg/s ({graph_rate * size / 1e6:,.0f} MB/s), "
                f"ratio {graph_rate / rates['simrec']:.2f}, lost {losses}{others} "
                f"(runs: bare {[f'{t:.2f}' for t in bare['simrec']]} s, "
                f"graph {[f'{t:.2f}' for t in graph]} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
