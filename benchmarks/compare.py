"""simrec side by side with what its users would pick instead, on the same workloads, in one run.

    python benchmarks/compare.py [--quick] [--reps N] [--only rl,cam,simrec,rerun,...]

Every case (a workload through one recorder) runs in a fresh process (compare_case.py) so
peak RSS and imports never leak between cases; cases alternate within each repetition and
the table gives the median and the spread. Peers whose package is missing are reported as
"not installed". Writes a Markdown table (default benchmarks/RESULTS.md) with the machine and
its own limits measured in the same run (memcpy bandwidth, sequential write with fdatasync).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from compare_case import SEEK_POINTS, calibrate  # noqa: E402  (this folder)

WORKLOADS = ("rl", "cam", "flood")
CASES = ("none", "simrec", "simrec-graph", "savez", "rerun", "foxglove", "mcap", "gym")
APPLIES = {
    "rl": ("none", "simrec", "simrec-graph", "savez", "rerun", "foxglove", "mcap"),
    "cam": CASES,
    "flood": ("simrec", "simrec-graph", "savez", "rerun", "foxglove", "mcap"),
}
LABELS = {
    "none": "no recording (baseline)",
    "simrec": "simrec in-process `Recorder`",
    "simrec-graph": "simrec across processes (publisher → `RecorderNode`)",
    "savez": "hand-written: lists + `np.savez` (+ imageio MP4)",
    "rerun": "Rerun `rerun-sdk` → .rrd",
    "foxglove": "foxglove-sdk → MCAP",
    "mcap": "`mcap` Writer",
    "gym": "Gymnasium `RecordVideo` (frames only)",
}
COMPRESSION = {
    "simrec": "zstd (+JPEG)",
    "simrec-graph": "zstd (+JPEG)",
    "foxglove": "zstd (+JPEG)",
    "mcap": "zstd (+JPEG)",
    "rerun": "lz4 (raw pixels)",
    "savez": "none (+H.264)",
    "gym": "H.264",
}
# Issue #19's read-back and seek goals: (peer case, most simrec may take as a multiple of it).
# The seek's peer is the `mcap` package's reader on the `mcap` Writer's file of the same data.
READ_GOALS = {
    "read": {"rl": ("rerun", 1), "cam": ("rerun", 1), "flood": ("savez", 5)},
    "seek": {"rl": ("mcap", 1), "cam": ("mcap", 1)},
}
TITLES = {
    "rl": "Workload 1: batched RL loop",
    "cam": "Workload 2: two RGB cameras at 30 Hz + the RL state at 100 Hz",
    "flood": "Workload 3: flood of 100-byte messages on 20 topics",
}


def sizes(args: argparse.Namespace) -> dict[str, dict]:
    if args.quick:
        state = {"envs": 256, "dim": 16, "steps": 20}
        return {
            "rl": state,
            "cam": {**state, "height": 96, "width": 128},
            "flood": {"count": 2000, "topics": 20, "bytes": 100},
        }
    state = {"envs": 4096, "dim": 64}
    return {
        "rl": {**state, "steps": args.steps},
        "cam": {**state, "steps": round(args.seconds * 100), "height": 480, "width": 640},
        "flood": {"count": args.flood_count, "topics": 20, "bytes": 100},
    }


# ---------------------------------------------------------------- the machine


def machine() -> dict[str, str]:
    model = platform.processor() or "unknown"
    ram = "?"
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    with open("/proc/meminfo") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal"))
        ram = f"{kib / 2**20:.0f} GiB"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return {"cores": str(os.cpu_count()), "ram": ram, "cpu": model, "load": load}


def memcpy_gbs(mib: int) -> float:
    src = np.ones(mib << 20, np.uint8)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - started)
    return src.nbytes / best / 1e9


def disk_mbs(directory: Path, mib: int) -> float:
    block = np.random.default_rng(0).integers(0, 256, 8 << 20, dtype=np.uint8).tobytes()
    path = directory / "disk_probe.bin"
    started = time.perf_counter()
    with open(path, "wb") as f:
        for _ in range(max(1, mib // 8)):
            f.write(block)
        os.fdatasync(f.fileno())
    elapsed = time.perf_counter() - started
    path.unlink()
    return max(1, mib // 8) * len(block) / elapsed / 1e6


# ---------------------------------------------------------------- running


def compile_tree(here: Path = HERE) -> None:
    """Byte-compile ``here``'s tree once, as ``pip install`` does: a case must not time compiling
    our modules from source (what every fresh process did where PYTHONDONTWRITEBYTECODE is set:
    ~0.1 s of each read-back)."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(here.parent / "simrec_node"), str(here)],
        check=False,
        capture_output=True,
    )


def case_spec(
    workload: str, case: str, rep: int, size: dict, work_reps: int, directory: str, keep: bool = False
) -> dict:
    """What compare_case.py is handed for one case (as JSON)."""
    return {
        "workload": workload,
        "case": case,
        "rep": rep,
        "size": size,
        "work_reps": work_reps,
        "dir": directory,
        "keep": keep,
    }


def run_case(spec: dict, here: Path = HERE) -> dict:
    """One case in a fresh process, through ``here``'s compare_case.py (``here``: the benchmarks
    folder of this checkout, or of another one that compare_readback.py compares against)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(here), str(here.parent), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # peers' packages load from their caches too
    proc = subprocess.run(
        [sys.executable, str(here / "compare_case.py"), json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"workload": spec["workload"], "case": spec["case"], "rep": spec["rep"], "error": tail}
    return json.loads(lines[-1])


def schedule(workloads: list[str], cases: list[str], reps: int) -> list[tuple[int, str, str]]:
    """Cases alternate within each repetition, in a rotated order, so drift hits all alike."""
    runs = []
    for rep in range(reps):
        for workload in workloads:
            applicable = [c for c in APPLIES[workload] if c in cases]
            shift = rep % max(1, len(applicable))
            runs += [(rep, workload, case) for case in applicable[shift:] + applicable[:shift]]
    return runs


# ---------------------------------------------------------------- the table


def spread(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    median = statistics.median(values)
    if len(values) == 1:
        return format(median, fmt)
    return f"{format(median, fmt)} ({format(min(values), fmt)}..{format(max(values), fmt)})"


def summarize(results: list[dict]) -> dict[tuple[str, str], dict]:
    """Per (workload, case): figures per repetition, slowdowns paired with the same rep's baseline."""
    baseline = {
        (r["workload"], r["rep"]): r["loop_s"] for r in results if r["case"] == "none" and "loop_s" in r
    }
    table: dict[tuple[str, str], dict] = {}
    for r in results:
        row = table.setdefault((r["workload"], r["case"]), {"runs": []})
        row["runs"].append(r)
        for key in ("error", "missing"):
            if key in r:
                row[key] = r[key]
    for row in table.values():
        runs = [r for r in row["runs"] if "error" not in r and "missing" not in r]
        row["slowdown"] = [
            100 * (r["loop_s"] / baseline[(r["workload"], r["rep"])] - 1)
            for r in runs
            if "loop_s" in r and (r["workload"], r["rep"]) in baseline and r["case"] != "none"
        ]
        row["loop_s"] = [r["loop_s"] for r in runs if "loop_s" in r]
        flat = [r for r in runs if "flat_s" in r]
        row["msgs"] = [r["records"] / r["flat_s"] for r in flat]
        row["mbs"] = [r["bytes"] / r["flat_s"] / 1e6 for r in flat]
        row["file_mb"] = [r["file_bytes"] / 1e6 for r in flat]
        row["file_mbs"] = [r["file_bytes"] / r["flat_s"] / 1e6 for r in flat]
        row["rss"] = [r["rss_mb"] for r in flat]
        row["read"] = [r["read_s"] for r in flat]
        row["seek"] = [1e3 * r["seek_s"] for r in flat if "seek_s" in r]
        row["lost"] = [r["lost"] for r in flat]
        row["counts"] = [(r["read_records"], r["records"]) for r in flat]
    return table


def _median(row: dict | None, key: str) -> float | None:
    return statistics.median(row[key]) if row and row.get(key) else None


def goals(table: dict, workloads: list[str]) -> list[str]:
    """The issue's goals, each stated as met or not, with the numbers."""
    lines = []

    def get(workload: str, case: str, key: str) -> float | None:
        return _median(table.get((workload, case)), key)

    def verdict(ok: bool) -> str:
        return "met" if ok else "**NOT met**"

    for w in [w for w in workloads if w != "flood"]:
        s, base, rr = (get(w, c, "slowdown") for c in ("simrec", "savez", "rerun"))
        if s is not None and base is not None:
            lines.append(
                f"- {w}: loop slowdown simrec {s:+.0f}% vs hand-written {base:+.0f}%: {verdict(s <= base)}"
            )
        if s is not None and rr is not None:
            lines.append(
                f"- {w}: loop slowdown simrec {s:+.0f}% ≤ 0.5x Rerun's {rr:+.0f}%: {verdict(s <= 0.5 * rr)}"
            )
    for w in workloads:
        s = get(w, "simrec", "mbs")
        for peer, factor in (("foxglove", 1.0), ("rerun", 2.0)):
            p = get(w, peer, "mbs")
            if s is None or p is None or (peer == "foxglove" and w == "flood"):
                continue
            lines.append(
                f"- {w}: throughput simrec {s:,.0f} MB/s = {s / p:.2f}x {peer} ({p:,.0f} MB/s), "
                f"goal ≥ {factor:g}x: {verdict(s >= factor * p)}"
            )
        size = get(w, "simrec", "file_mb")
        same_class = [get(w, c, "file_mb") for c in ("foxglove", "mcap") if get(w, c, "file_mb") is not None]
        if size is not None and same_class:
            smallest = min(same_class)
            lines.append(
                f"- {w}: file size simrec {size:,.1f} MB = {size / smallest:.2f}x the smallest zstd MCAP "
                f"peer, goal ≤ 1.1x: {verdict(size <= 1.1 * smallest)}"
            )
        for key, what, unit in (("read", "read-back", "s"), ("seek", "seek", "ms")):
            mine = get(w, "simrec", key)
            peer, factor = READ_GOALS[key].get(w, (None, 0))
            theirs = get(w, peer, key) if peer else None
            if mine is None or theirs is None:
                continue
            lines.append(
                f"- {w}: {what} simrec {mine:.3g} {unit} = {mine / theirs:.2f}x {peer} "
                f"({theirs:.3g} {unit}), goal ≤ {factor:g}x: {verdict(mine <= factor * theirs)}"
            )
    return lines


def markdown(table: dict, workloads: list[str], info: dict, args: argparse.Namespace, size: dict) -> str:
    out = [
        "# simrec vs peers (`benchmarks/compare.py`)",
        "",
        f"Run {info['date']} with `python benchmarks/compare.py {' '.join(sys.argv[1:])}`; "
        f"{args.reps} repetition(s), each case in a fresh process, cases alternating; median (min..max).",
        "",
        f"Machine: {info['cores']} cores ({info['cpu']}), {info['ram']} RAM, "
        f"Python {platform.python_version()}, load average at start {info['load']}. **Shared machine**: "
        "other work ran at the same time, so compare the ratios within this table, not absolute "
        "figures across runs.",
        f"Machine limits measured in this run: memcpy {info['memcpy']:.1f} GB/s (numpy, best of 5), "
        f"sequential write with fdatasync {info['disk']:,.0f} MB/s.",
        "",
        "Figures: **slowdown** of the sim loop (~5 ms of numpy per step) against the same loop "
        "recording nothing, paired per repetition (includes closing the file; simrec across processes: "
        "the publisher's loop); **msg/s, MB/s** (raw bytes handed over) with the loop running flat out, "
        "until the file is closed; **file MB/s** (% of the disk limit); **peak RSS** of the recording "
        "process; **read-back**: everything into numpy arrays (images decoded), all held at once; "
        "**seek**: open the file to the first decoded frame at a random point (median of "
        f"{SEEK_POINTS} points per repetition). read/written counts the records read back.",
        "",
    ]
    for w in workloads:
        out += [f"## {TITLES[w]}", "", f"Size: `{json.dumps(size[w])}`", ""]
        out.append(
            "| case | loop slowdown % | msg/s | MB/s | file MB | file MB/s (% disk) | compression | "
            "peak RSS MB | read-back s | seek ms | read/written | lost |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for case in APPLIES[w]:
            row = table.get((w, case))
            if row is None:
                continue
            if "missing" in row:
                out.append(f"| {LABELS[case]} | not installed (`{row['missing']}`) |" + " |" * 10)
                continue
            if "error" in row and not row["loop_s"] and not row["msgs"]:
                out.append(f"| {LABELS[case]} | error: {row['error'][:120]} |" + " |" * 10)
                continue
            if case == "none":
                loop = statistics.median(row["loop_s"])
                out.append(f"| {LABELS[case]} | 0 (loop {loop:.2f} s) |" + " |" * 10)
                continue
            disk = [f"{v:,.0f} ({100 * v / info['disk']:.0f}%)" for v in [_median(row, "file_mbs")]]
            counts = {f"{a}/{b}" for a, b in row["counts"]}
            out.append(
                "| "
                + " | ".join(
                    [
                        LABELS[case],
                        spread(row["slowdown"], "+.0f"),
                        spread(row["msgs"], ",.0f"),
                        spread(row["mbs"], ",.0f"),
                        spread(row["file_mb"], ",.1f"),
                        disk[0],
                        COMPRESSION[case],
                        spread(row["rss"], ",.0f"),
                        spread(row["read"], ".3f"),
                        spread(row["seek"], ".1f"),
                        ", ".join(sorted(counts)),
                        str(max(row["lost"])) if row["lost"] else "-",
                    ]
                )
                + " |"
            )
        out.append("")
    out += ["## Goals (issues #8 and #19)", "", *goals(table, workloads), ""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, 1 rep unless --reps (CI smoke test)"
    )
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 3; 1 with --quick)")
    parser.add_argument("--only", default="", help="comma list of workloads and/or cases to run")
    parser.add_argument("--steps", type=int, default=300, help="rl steps (issue size: 2000)")
    parser.add_argument("--seconds", type=float, default=3.0, help="cam sim seconds (issue size: 60)")
    parser.add_argument("--flood-count", type=int, default=100_000, help="100-byte messages")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--json", type=Path, help="also write every run's raw figures here")
    parser.add_argument("--dir", help="where the recordings go (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the last rep's files in --dir")
    args = parser.parse_args()
    args.reps = args.reps or (1 if args.quick else 3)
    only = {x for x in args.only.split(",") if x}
    unknown = only - set(WORKLOADS) - set(CASES)
    if unknown:
        parser.error(f"--only: unknown {', '.join(sorted(unknown))} (workloads {WORKLOADS}, cases {CASES})")
    workloads = [w for w in WORKLOADS if w in only] or list(WORKLOADS)
    cases = [c for c in CASES if c in only] or list(CASES)
    if "none" not in cases:
        cases.insert(0, "none")  # every slowdown needs its baseline
    size = sizes(args)
    if args.keep and not args.dir:
        parser.error("--keep needs --dir")

    info = {**machine(), "date": datetime.date.today().isoformat()}
    Path(args.dir).mkdir(parents=True, exist_ok=True) if args.dir else None
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        compile_tree()
        work_reps = calibrate(4096 if not args.quick else 256, 64 if not args.quick else 16, 0.005)
        info["memcpy"] = memcpy_gbs(32 if args.quick else 512)
        info["disk"] = disk_mbs(Path(tmp), 16 if args.quick else 1024)
        print(f"machine {info}; work kernel x{work_reps} per step", flush=True)
        results = []
        runs = schedule(workloads, cases, args.reps)
        for i, (rep, workload, case) in enumerate(runs):
            last = rep == args.reps - 1
            keep = bool(args.keep and last)
            spec = case_spec(workload, case, rep, size[workload], work_reps, args.dir if keep else tmp, keep)
            started = time.perf_counter()
            result = run_case(spec)
            results.append(result)
            note = result.get("error") or result.get("missing") or ""
            took = time.perf_counter() - started
            print(f"[{i + 1}/{len(runs)}] {rep} {workload:5s} {case:12s} {took:6.1f} s {note}", flush=True)
    table = summarize(results)
    text = markdown(table, workloads, info, args, size)
    args.output.write_text(text)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "size": size, "results": results}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
