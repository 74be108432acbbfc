"""``simrec info`` on a big log against the ``mcap`` reader's ``get_summary()`` on the same file.

    python benchmarks/bench_info.py [--mib 1024] [--reps 7] [--dir DIR]

Writes a log of ``--mib`` MiB (1 MiB payloads on 4 topics plus 100 small messages per MiB,
stored raw so writing is quick), then times, alternately and ``--reps`` times each: simrec's
summary (what ``simrec info`` prints, per-topic first/last times included) and ``mcap``'s
``make_reader(f).get_summary()``. Both start from a closed file; the page cache is warm for both.
The goal: simrec within 1.5x of ``get_summary()``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

T0 = 1_700_000_000_000_000_000


def write(path: Path, mib: int) -> None:
    from simrec_node.mcap import McapWriter

    payload = os.urandom(1 << 20)
    small = os.urandom(100)
    with McapWriter(path, compression="none") as writer:
        schema = writer.add_schema("Blob", "jsonschema", b"{}")
        big = [writer.add_channel(f"/camera/{i}", "json", schema) for i in range(4)]
        state = writer.add_channel("/state", "json", schema)
        writer.add_metadata("simrec.recording", {"command_line": "bench_info"})
        t = T0
        for i in range(mib):
            writer.write(big[i % 4], i, t, t, payload)
            for j in range(100):
                t += 100_000
                writer.write(state, i * 100 + j, t, t, small)


def simrec_info(path: Path) -> int:
    from simrec_node.info import summarize

    return summarize(path).message_count


def mcap_summary(path: Path) -> int:
    from mcap.reader import make_reader

    with open(path, "rb") as f:
        summary = make_reader(f).get_summary()
        assert summary is not None and summary.statistics is not None
        return summary.statistics.message_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--dir", help="where the log goes (default: a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="simrec-bench-info-") as tmp:
        path = Path(tmp) / "big.mcap"
        write(path, args.mib)
        simrec_info(path), mcap_summary(path)  # imports and first touch outside the timing
        times: dict[str, list[float]] = {"simrec info": [], "mcap get_summary()": []}
        for _ in range(args.reps):
            for name, fn in (("simrec info", simrec_info), ("mcap get_summary()", mcap_summary)):
                began = time.perf_counter()
                count = fn(path)
                times[name].append(time.perf_counter() - began)
        size = path.stat().st_size
        print(f"{size / 1e9:.2f} GB log, {count} messages, {args.reps} reps (median, min):")
        for name, values in times.items():
            print(f"  {name:<20} {statistics.median(values) * 1e3:8.2f} ms  {min(values) * 1e3:8.2f} ms")
        ratio = statistics.median(times["simrec info"]) / statistics.median(times["mcap get_summary()"])
        print(f"simrec / mcap: {ratio:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
