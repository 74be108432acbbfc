"""``simrec info`` on a big log against the ``mcap`` reader's ``get_summary()`` on the same file.

    python benchmarks/bench_info.py [--mib 1024] [--reps 7] [--dir DIR]
    python benchmarks/bench_info.py --log /tmp/simrec-info-1g.mcap   # written once, then reused

Writes a log of ``--mib`` MiB (1 MiB payloads on 4 topics plus 100 small messages per MiB,
stored raw so writing is quick), then times, alternately and ``--reps`` times each: what
``simrec info`` does (``summarize_log`` + ``render_summary``: per-topic first/last times and
sim-time rates included), the same without the sim-time rates (``describe(detail=False)``,
what ``simrec_node.open`` reads on open), and ``mcap``'s ``make_reader(f).get_summary()``. All
start from a closed file; the page cache is warm for all. ``--log PATH`` keeps the log (it is
written there when missing, reused as it is when present). Also counts the bytes of chunk data
each simrec pass reads: info reads no chunk but the heads of each topic's first and last message
(through the message index: a few bytes of a stored chunk, the start of a compressed one).
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
    from simrec_node.info import render_summary, summarize_log

    summary = summarize_log(path)
    render_summary(summary)
    return summary.message_count


def simrec_open(path: Path) -> int:
    from simrec_node.info import describe
    from simrec_node.logs import Log

    with Log(path) as log:
        return describe(log, detail=False).summary.message_count


def mcap_summary(path: Path) -> int:
    from mcap.reader import make_reader

    with open(path, "rb") as f:
        summary = make_reader(f).get_summary()
        assert summary is not None and summary.statistics is not None
        return summary.statistics.message_count


def chunk_bytes_read(fn, path: Path) -> int:
    """Bytes of chunk records ``fn`` reads through the log reader's three ways into a chunk
    (``LogFile.records``, ``record_at``, ``message_heads``), counted by wrapping them."""
    from simrec_node.logs import LogFile

    read = [0]
    originals = {name: getattr(LogFile, name) for name in ("records", "record_at", "message_heads")}

    def records(self, head, **kwargs):
        read[0] += head.uncompressed_size
        return originals["records"](self, head, **kwargs)

    def record_at(self, head, offset):
        found = originals["record_at"](self, head, offset)
        read[0] += len(found[0]) if found is not None else 0
        return found

    def message_heads(self, chunk_offset, offsets):
        found = originals["message_heads"](self, chunk_offset, offsets)
        read[0] += 31 * len(found)  # of a stored chunk, the heads alone (a compressed one: its start)
        return found

    for name, wrapper in (("records", records), ("record_at", record_at), ("message_heads", message_heads)):
        setattr(LogFile, name, wrapper)
    try:
        fn(path)
    finally:
        for name, original in originals.items():
            setattr(LogFile, name, original)
    return read[0]


def measure(path: Path, reps: int) -> None:
    cases = {
        "simrec info": simrec_info,
        "simrec open (no sim time)": simrec_open,
        "mcap get_summary()": mcap_summary,
    }
    for fn in cases.values():
        fn(path)  # imports and first touch outside the timing
    times: dict[str, list[float]] = {name: [] for name in cases}
    count = 0
    for _ in range(reps):
        for name, fn in cases.items():
            began = time.perf_counter()
            count = fn(path)
            times[name].append(time.perf_counter() - began)
    size = path.stat().st_size
    print(f"{size / 1e9:.2f} GB log ({path}), {count} messages, {reps} reps (median, min):")
    for name, values in times.items():
        print(f"  {name:<26} {statistics.median(values) * 1e3:8.2f} ms  {min(values) * 1e3:8.2f} ms")
    for name in ("simrec info", "simrec open (no sim time)"):
        print(f"  {name}: {chunk_bytes_read(cases[name], path)} bytes of chunk data read")
    ratio = statistics.median(times["simrec info"]) / statistics.median(times["mcap get_summary()"])
    print(f"simrec info / mcap get_summary(): {ratio:.2f}x (goal <= 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--dir", help="where the log goes (default: a temporary directory)")
    parser.add_argument("--log", type=Path, help="keep the log here (written when missing, else reused)")
    args = parser.parse_args()
    if args.log is not None:
        if not args.log.exists():
            write(args.log, args.mib)
        measure(args.log, args.reps)
        return
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="simrec-bench-info-") as tmp:
        path = Path(tmp) / "big.mcap"
        write(path, args.mib)
        measure(path, args.reps)


if __name__ == "__main__":
    main()
