"""How fast ``simrec recover`` is: the chunk-copying fast path against re-chunking every message
(``rechunk=True``), a plain read of the file and a plain copy of it (read + write + fsync).

Run ``python benchmarks/bench_recover.py [--size-mb 600] [--reps 3]``. Two files, both truncated
1 MB before their end (as a kill leaves them): ``repeat`` is ``bench_sigkill.py``'s (40 KB frames
cycled from 64 random ones, so zstd shrinks the chunks ~6x and recover checks 6x the bytes
read) and ``unique`` has a fresh random frame each time (chunks stored raw). The four
measurements are alternated per repetition; medians are printed with their ratios.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout, uninstalled

from simrec_node.mcap.writer import McapWriter  # noqa: E402
from simrec_node.repair import recover  # noqa: E402

T0 = 1_700_000_000_000_000_000


def write_file(path: Path, size_mb: int, unique_frames: bool) -> None:
    """Camera-like 40 KB frames and small state messages (1 in 4 a frame), zstd."""
    rng = random.Random(1)
    frames = [rng.randbytes(40_000) for _ in range(64)]
    states = [rng.randbytes(64) * 4 for _ in range(64)]
    with McapWriter(path, compression="zstd") as w:
        schema = w.add_schema("bench.Blob", "protobuf", b"")
        cam, state = w.add_channel("/camera", "protobuf", schema), w.add_channel("/state", "protobuf", schema)
        i = 0
        while w.bytes_written < size_mb * 1_000_000:
            t = T0 + i * 1_000_000
            if i % 4:
                w.write(state, i, t, t, states[i % 64])
            else:
                w.write(cam, i, t, t, os.urandom(40_000) if unique_frames else frames[i % 64])
            i += 1
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size - 1_000_000)


def read_all(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(8 << 20):
            pass


def copy_all(path: Path, out: Path) -> None:
    with open(path, "rb") as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 8 << 20)
        dst.flush()
        os.fsync(dst.fileno())


def measure(path: Path, out: Path, reps: int) -> dict[str, float]:
    cases: dict[str, Callable[[], object]] = {
        "read": lambda: read_all(path),
        "copy": lambda: copy_all(path, out),
        "recover": lambda: recover(path, out, overwrite=True),
        "rechunk": lambda: recover(path, out, overwrite=True, rechunk=True),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(reps):
        for name, run in cases.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=600)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_recover_") as tmp:
        for kind in ("repeat", "unique"):
            path, out = Path(tmp) / f"{kind}.mcap", Path(tmp) / "out.mcap"
            write_file(path, args.size_mb, unique_frames=kind == "unique")
            mb = path.stat().st_size / 1e6
            t = measure(path, out, args.reps)
            speed = {name: f"{mb / s:.0f} MB/s" for name, s in t.items()}
            print(
                f"{kind} {mb:.0f} MB: recover {speed['recover']}, rechunk {speed['rechunk']}, "
                f"read {speed['read']}, copy+fsync {speed['copy']}; recover/rechunk "
                f"{t['rechunk'] / t['recover']:.2f}x, recover vs read {t['read'] / t['recover']:.2f}, "
                f"vs copy {t['copy'] / t['recover']:.2f} (medians of {args.reps})",
                flush=True,
            )
            path.unlink()
            out.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
