"""Smoke test of benchmarks/compare.py at tiny sizes: the harness runs, fills a row for every
installed case, and every file it writes reads back (with independent readers) complete."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mcap.reader import make_reader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from compare import APPLIES, LABELS  # noqa: E402

PACKAGES = {"rerun": "rerun", "gym": "moviepy"}  # cases whose package may be missing


def _installed(case: str) -> bool:
    package = PACKAGES.get(case)
    return package is None or importlib.util.find_spec(package) is not None


def _frames(steps: int) -> int:
    return int((steps - 1) / 100 * 30) + 1


def _expected_messages(workload: str, size: dict) -> int:
    """Messages in an MCAP file of the workload (one StateBatch per step, one per frame)."""
    if workload == "flood":
        return size["count"]
    return size["steps"] + (2 * _frames(size["steps"]) if workload == "cam" else 0)


def _mcap_count(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(
            1 for _, channel, _ in make_reader(f).iter_messages() if not channel.topic.startswith("/simrec/")
        )


def _mp4_frames(path: Path) -> int:
    import imageio.v2 as imageio

    with imageio.get_reader(path) as reader:
        return sum(1 for _ in reader)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict, Path]:
    tmp = tmp_path_factory.mktemp("compare")
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "compare.py"),
            "--quick",
            "--output",
            str(tmp / "RESULTS.md"),
            "--json",
            str(tmp / "results.json"),
            "--dir",
            str(tmp / "files"),
            "--keep",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return (tmp / "RESULTS.md").read_text(), json.loads((tmp / "results.json").read_text()), tmp / "files"


@pytest.mark.timeout(300)
def test_table_has_a_row_with_numbers_for_every_installed_case(run: tuple[str, dict, Path]) -> None:
    table, data, _ = run
    assert "memcpy" in table and "fdatasync" in table and "## Goals" in table
    for workload, cases in APPLIES.items():
        section = table.split(f"Size: `{json.dumps(data['size'][workload])}`")[1].split("## ")[0]
        for case in cases:
            row = next(
                (line for line in section.splitlines() if line.startswith(f"| {LABELS[case]} |")), None
            )
            assert row is not None, f"{workload}: no row for {case}"
            if not _installed(case):
                assert "not installed" in row
                continue
            cells = [c.strip() for c in row.strip("|").split("|")]
            if case == "none":
                assert "loop" in cells[1], row
                continue
            assert all(any(ch.isdigit() for ch in cells[i]) for i in (2, 3, 4, 7, 8)), row


@pytest.mark.timeout(300)
def test_every_file_reads_back_complete(run: tuple[str, dict, Path]) -> None:
    _, data, files = run
    results = [r for r in data["results"] if r["case"] != "none" and "missing" not in r]
    assert results and not [r for r in results if "error" in r]
    checked = 0
    for r in results:
        assert r["read_records"] == r["records"] and r["lost"] == 0, r
        size = data["size"][r["workload"]]
        for name in r["files"]:
            path = Path(name)
            assert (path.parent == files and path.stat().st_size > 0) or r["case"] == "gym"
            if path.suffix == ".mcap":
                assert _mcap_count(path) == _expected_messages(r["workload"], size), path
            elif path.suffix == ".npz":
                with np.load(path) as archive:
                    rows = {len(archive[k]) for k in archive.files}
                expect = size["steps"] if r["workload"] != "flood" else size["count"] // size["topics"]
                assert rows == {expect}, path
            elif path.suffix == ".mp4":
                assert _mp4_frames(path) == _frames(size["steps"]), path
            elif path.suffix == ".rrd":
                from compare_read import read_back

                per_step = 3 if r["workload"] != "flood" else 0
                expect = size.get("steps", 0) * per_step + (
                    2 * _frames(size["steps"]) if r["workload"] == "cam" else 0
                )
                assert read_back("rerun", [path]) == (expect or size["count"]), path
            checked += 1
    assert checked >= len(results)
