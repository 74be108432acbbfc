"""What crash safety costs: recorder throughput with a flush (and fdatasync) every second against
no forced flushing, in one run, alternating.

    python benchmarks/bench_flush.py [--reps 5]

Target (issue: the recorder under faults): flushing every second at >= 0.9x the throughput of
not flushing. Each run lasts several seconds so that several flushes fall inside it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench_record_path import through_graph  # this folder (scripts run from it)

from simrec_node.record import RecordOptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--dir", help="where to write the files (default: a temporary directory)")
    args = parser.parse_args()
    cases = [("100 B", 100, 1_000_000), ("64 KiB", 64 * 1024, 30_000)]
    cache = RecordOptions.max_queue_bytes
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for label, size, count in cases:
            times: dict[float, list[float]] = {0.0: [], 1.0: []}
            for rep in range(args.reps):
                order = (0.0, 1.0) if rep % 2 == 0 else (1.0, 0.0)
                for interval in order:
                    path = Path(tmp) / f"flush{interval}.mcap"
                    elapsed, lost = through_graph(path, count, size, "zstd", cache, flush_interval_s=interval)
                    assert lost == 0, f"{lost} lost"
                    times[interval].append(elapsed)
                    path.unlink()
            never = count / statistics.median(times[0.0])
            every = count / statistics.median(times[1.0])
            print(
                f"{label:>6} x {count}: no forced flush {never:,.0f} msg/s ({never * size / 1e6:,.0f} MB/s), "
                f"flush+fdatasync every 1 s {every:,.0f} msg/s ({every * size / 1e6:,.0f} MB/s), "
                f"ratio {every / never:.2f} (runs: never {[f'{t:.2f}' for t in times[0.0]]} s, "
                f"every 1 s {[f'{t:.2f}' for t in times[1.0]]} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
