"""Compare MCAP writers: simrec's McapWriter vs mcap.writer.Writer vs foxglove-sdk's MCAPWriter.

Why: the recorder must sustain 150k+ small msg/s while sharing the GIL with a Zenoh subscriber, so
the per-message cost of the writer is the budget that matters. Runs are alternating and repeated;
each timing covers open -> all writes -> close (final chunk, summary, footer).

    python benchmarks/bench_mcap_writers.py [--small-n 300000] [--big-n 500] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import foxglove
import numpy as np
from foxglove.mcap import MCAPCompression, MCAPWriteOptions
from mcap.writer import CompressionType
from mcap.writer import Writer as McapPyWriter

try:
    from simrec_node.mcap.writer import McapWriter
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from simrec_node.mcap.writer import McapWriter

CHUNK_SIZE = 4 * 1024 * 1024
TOPIC = "/bench/data"

WriterFn = Callable[[str, str, Sequence[bytes], int], None]


def run_simrec(path: str, compression: str, payloads: Sequence[bytes], n: int) -> None:
    with McapWriter(path, compression=compression, chunk_size=CHUNK_SIZE) as w:
        ch = w.add_channel(TOPIC, "protobuf", w.add_schema("bench.Msg", "protobuf", b""))
        write = w.write
        k = len(payloads)
        for i in range(n):
            t = 1_000_000_000 + i
            write(ch, i, t, t, payloads[i % k])


def run_mcap(path: str, compression: str, payloads: Sequence[bytes], n: int) -> None:
    ctype = CompressionType.ZSTD if compression == "zstd" else CompressionType.NONE
    with open(path, "wb") as f:
        w = McapPyWriter(f, chunk_size=CHUNK_SIZE, compression=ctype)
        w.start(profile="", library="bench")
        ch = w.register_channel(TOPIC, "protobuf", w.register_schema("bench.Msg", "protobuf", b""))
        add = w.add_message
        k = len(payloads)
        for i in range(n):
            t = 1_000_000_000 + i
            add(ch, t, payloads[i % k], t, i)
        w.finish()


def run_foxglove(path: str, compression: str, payloads: Sequence[bytes], n: int) -> None:
    ctx = foxglove.Context()
    opts = MCAPWriteOptions(
        compression=MCAPCompression.Zstd if compression == "zstd" else None, chunk_size=CHUNK_SIZE
    )
    w = foxglove.open_mcap(path, context=ctx, writer_options=opts, allow_overwrite=True)
    ch = foxglove.Channel(
        TOPIC,
        schema=foxglove.Schema(name="bench.Msg", encoding="protobuf", data=b""),
        message_encoding="protobuf",
        context=ctx,
    )
    log = ch.log
    k = len(payloads)
    for i in range(n):
        log(payloads[i % k], log_time=1_000_000_000 + i)
    w.close()


WRITERS: dict[str, WriterFn] = {"simrec": run_simrec, "mcap": run_mcap, "foxglove": run_foxglove}


def make_payloads(kind: str, rng: np.random.Generator) -> tuple[list[bytes], int]:
    """Distinct payload pools (so compression can't exploit exact repeats within a chunk window)."""
    if kind == "small":
        # 100 B: a telemetry-like half (small ints, zeros) + a noisy half.
        pool = []
        for _ in range(4096):
            structured = np.zeros(50, np.uint8)
            structured[::5] = rng.integers(0, 4, 10)
            pool.append(structured.tobytes() + rng.bytes(50))
        return pool, 100
    size = 1 << 20
    if kind == "big-random":
        return [rng.bytes(size) for _ in range(16)], size
    # big-compressible: image-like smooth gradient with low-bit noise.
    base = (np.arange(size, dtype=np.uint32) // 3 % 256).astype(np.uint8)
    return [(base + rng.integers(0, 2, size, dtype=np.uint8)).tobytes() for _ in range(16)], size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small-n", type=int, default=300_000, help="number of 100-byte messages")
    ap.add_argument("--big-n", type=int, default=500, help="number of 1 MiB messages")
    ap.add_argument("--reps", type=int, default=3, help="repetitions (writers alternate within each)")
    ap.add_argument("--writers", default=",".join(WRITERS), help="comma-separated subset of writers")
    ap.add_argument("--cases", default="small,big-random,big-compressible", help="comma-separated cases")
    ap.add_argument("--compressions", default="zstd,none", help="comma-separated: zstd,none")
    args = ap.parse_args()
    writers = [w for w in args.writers.split(",") if w]
    rng = np.random.default_rng(0)

    counts = {"small": args.small_n, "big-random": args.big_n, "big-compressible": args.big_n}
    cases = [(c, counts[c]) for c in args.cases.split(",") if c]
    print(f"python {sys.version.split()[0]}, chunk_size={CHUNK_SIZE >> 20} MiB, best of {args.reps} reps")
    cols = [("case", 18), ("comp", 6), ("writer", 10)]
    nums = [("msgs/s", 12), ("MB/s", 9), ("us/msg", 9), ("file MB", 9), ("vs mcap", 9)]
    print("".join(f"{c:<{w}}" for c, w in cols) + "".join(f"{c:>{w}}" for c, w in nums))
    with tempfile.TemporaryDirectory(prefix="bench_mcap_") as tmp:
        for kind, n in cases:
            payloads, size = make_payloads(kind, rng)
            for compression in args.compressions.split(","):
                times: dict[str, list[float]] = {w: [] for w in writers}
                sizes: dict[str, int] = {}
                for rep in range(args.reps):
                    order = writers if rep % 2 == 0 else writers[::-1]
                    for name in order:
                        path = os.path.join(tmp, f"{name}.mcap")
                        t0 = time.perf_counter()
                        WRITERS[name](path, compression, payloads, n)
                        times[name].append(time.perf_counter() - t0)
                        sizes[name] = os.path.getsize(path)
                        os.remove(path)
                best_mcap = min(times["mcap"]) if "mcap" in times else None
                for name in writers:
                    best = min(times[name])
                    ratio = f"{best_mcap / best:8.2f}x" if best_mcap else "       -"
                    print(
                        f"{kind:<18}{compression:<6}{name:<10}{n / best:>12,.0f}{n * size / best / 1e6:>9.0f}"
                        f"{best / n * 1e6:>9.2f}{sizes[name] / 1e6:>9.1f}{ratio:>9}"
                        f"   (median {statistics.median(times[name]):.3f}s)"
                    )
                sys.stdout.flush()


if __name__ == "__main__":
    main()
