"""Read-back of two simrec trees side by side, in one run: compare.py's read-back rows for simrec
from an older checkout and from this one, alternating with Rerun and lists + ``np.savez``.

    git archive <commit> | tar -x -C /tmp/before
    python benchmarks/compare_readback.py --before /tmp/before [--reps 3] [--quick] [--output F.md]

Each case runs in a fresh process through that tree's ``compare_case.py`` (recording, then
reading back with that tree's ``compare_read._read_simrec``), so both trees see the same load;
the order rotates every repetition. Prints a Markdown table of read-back medians (min..max).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import compare  # noqa: E402  (this folder)

RUNS = (("before", "simrec"), ("after", "simrec"), ("after", "rerun"), ("after", "savez"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="an older checkout of the repository")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--output", type=Path, help="also write the table here")
    parser.add_argument("--quick", action="store_true", help="compare.py's tiny sizes (a smoke test)")
    args = parser.parse_args()
    trees = {"before": args.before.resolve() / "benchmarks", "after": HERE}
    if not (trees["before"] / "compare_case.py").exists():
        parser.error(f"{args.before} has no benchmarks/compare_case.py")
    for tree in trees.values():
        compare.compile_tree(tree)
    size = compare.sizes(argparse.Namespace(quick=args.quick, steps=300, seconds=3.0, flood_count=100_000))
    work_reps = compare.calibrate(256, 16, 0.005) if args.quick else compare.calibrate(4096, 64, 0.005)
    machine = compare.machine()
    print(f"machine {machine}", flush=True)
    reads: dict[tuple[str, str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            for workload in compare.WORKLOADS:
                for tree, case in RUNS[rep % len(RUNS) :] + RUNS[: rep % len(RUNS)]:
                    spec = compare.case_spec(workload, case, rep, size[workload], work_reps, tmp)
                    result = compare.run_case(spec, trees[tree])
                    if "read_s" in result:
                        reads.setdefault((workload, tree, case), []).append(result["read_s"])
                    note = result.get("error", result.get("read_s"))
                    print(f"{rep} {workload:5s} {tree:6s} {case:6s} {note}", flush=True)
    lines = [
        f"Read-back s, median (min..max) of {args.reps}; machine: {machine['cores']} cores, "
        f"load at start {machine['load']}.",
        "",
        "| workload | simrec before | simrec after | Rerun | lists + `np.savez` |",
        "|---|---|---|---|---|",
    ]
    for workload in compare.WORKLOADS:
        cells = [compare.spread(reads.get((workload, tree, case), []), ".3f") for tree, case in RUNS]
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    if args.output:
        args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
