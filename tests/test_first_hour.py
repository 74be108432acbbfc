"""Commands that tripped a new user (issue 18, section 2), through the real ``simrec`` command:
the README's demo runs every time, nothing shipped replaces a file unsaid, sizes say what they
count, and options no longer swallow the input file."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shutil
import stat
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

from simrec_node.cli.main import build_parser
from simrec_node.cli.status import human_bytes

from .conftest import REPO, simrec_command


def run_simrec(*args: str, timeout: float = 90, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        simrec_command(*args),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """The README's demo command (shorter): 3 s of the demo recorded in-process."""
    path = tmp_path_factory.mktemp("demo") / "demo.mcap"
    domain = "t" + uuid.uuid4().hex[:12]
    done = run_simrec(
        "demo",
        "--record",
        str(path),
        "--overwrite",
        "--duration",
        "3",
        "--envs",
        "2",
        "-q",
        "--domain",
        domain,
    )
    assert done.returncode == 0, done.stderr
    return path, done


def test_the_demo_command_runs_again_and_says_what_it_replaces(demo_run, domain: str, tmp_path: Path) -> None:
    first, done = demo_run
    assert "replacing" not in done.stderr  # nothing was there the first time
    again = tmp_path / "demo.mcap"
    shutil.copy(first, again)
    size = human_bytes(again.stat().st_size)
    rerun = run_simrec(
        "demo", "--record", str(again), "--overwrite", "--duration", "1", "-q", "--domain", domain
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"replacing {again} ({size}, --overwrite)" in rerun.stderr
    assert rerun.stderr.index("replacing") < rerun.stderr.index("recording all topics")


def test_end_of_run_sizes_say_payload_and_file(demo_run) -> None:
    path, done = demo_run
    match = re.search(
        r"wrote (\S+): .* topics, (\S+ \S+) of message payload in (\S+ \S+) on disk", done.stderr
    )
    assert match, done.stderr
    assert match.group(1) == str(path)
    assert match.group(3) == human_bytes(path.stat().st_size)


def test_shipped_launch_files_never_replace_a_file() -> None:
    """No --overwrite; with no output:= the recorder picks a new simrec_<date>-<time>.mcap."""
    for name in ("demo.launch.yaml", "record.launch.yaml"):
        printed = run_simrec("launch", "--print", str(REPO / "launch" / name))
        assert printed.returncode == 0, printed.stderr
        assert "--overwrite" not in printed.stdout and "--output=" in printed.stdout, printed.stdout
    parsed = build_parser().parse_args(["record", "-a", "--output="])
    assert parsed.output == ""  # record_cmd reads an empty --output as "the default name"


def test_an_empty_output_records_under_a_new_default_name(domain: str, tmp_path: Path) -> None:
    publisher = subprocess.Popen(
        [
            *simrec_command(
                "demo", "--duration", "8", "--envs", "1", "--camera-rate", "0", "-q", "--domain", domain
            )
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            simrec_command("record", "/clock", "--output=", "--duration", "2", "-q", "--domain", domain),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        publisher.terminate()
        publisher.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    (made,) = tmp_path.glob("simrec_*.mcap")
    assert made.stat().st_size > 0 and f"wrote {made.name}" in done.stderr


def test_convert_to_a_new_directory_creates_it(demo_run, tmp_path: Path) -> None:
    path, _ = demo_run
    videos = tmp_path / "videos" / "run1"
    done = run_simrec("convert", str(path), "-o", f"{videos}/")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in videos.iterdir()) == ["camera_depth.mp4", "camera_rgb.mp4"]


def test_topic_before_the_file_keeps_the_file(demo_run, tmp_path: Path) -> None:
    path, _ = demo_run
    one = run_simrec("convert", "-t", "/clock", str(path), "-o", str(tmp_path / "one.npz"))
    assert one.returncode == 0, one.stderr
    several = run_simrec(
        "convert", "--topics", "/clock", "/sim/reward", str(path), "-o", str(tmp_path / "two.npz")
    )
    assert several.returncode == 0, several.stderr
    with np.load(tmp_path / "one.npz") as z:
        assert {key.split("/")[1] for key in z.files if key != "__meta__"} == {"clock"}
    with np.load(tmp_path / "two.npz") as z:
        assert {key.split("/")[1] for key in z.files if key != "__meta__"} == {"clock", "sim"}
    two_after_t = run_simrec(
        "convert", "-t", "/clock", "/sim/reward", str(path), "-o", str(tmp_path / "x.npz")
    )
    assert two_after_t.returncode == 2 and "Traceback" not in two_after_t.stderr
    assert "-t takes one topic each: -t /clock -t /sim/reward" in two_after_t.stderr
    missing = run_simrec("convert", "--topics", "/clock", "-o", str(tmp_path / "three.npz"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "no input FILE: give the log first, e.g. simrec convert run.mcap" in missing.stderr


def test_play_clock_before_the_file_plays_the_file(demo_run, domain: str) -> None:
    path, _ = demo_run
    args = ("--playback-duration", "0.3", "--wait-for-subscribers", "0", "-q", "--domain", domain)
    done = run_simrec("play", "--clock", str(path), *args)
    assert done.returncode == 0, done.stderr
    assert f"of {path}" in done.stderr and "played" in done.stderr
    topics = run_simrec("play", "--topics", "/clock", str(path), *args)
    assert topics.returncode == 0, topics.stderr
    assert f"playing 1 topic(s) of {path}: /clock" in topics.stderr
    bad = run_simrec("play", "--clock", "fast", str(path), *args)
    assert bad.returncode == 2 and "argument --clock: clock rate must be a number, got 'fast'" in bad.stderr


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_recover_writes_the_mode_other_outputs_get(demo_run, tmp_path: Path, umask: int, mode: int) -> None:
    path, _ = demo_run
    broken = tmp_path / "broken.mcap"
    broken.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    fixed = tmp_path / "fixed.mcap"
    done = run_simrec("recover", str(broken), "-o", str(fixed), "-q", umask=umask)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(fixed.stat().st_mode) == mode
    npz = run_simrec("convert", str(fixed), "-o", str(tmp_path / "x.npz"), "-t", "/clock", umask=umask)
    assert npz.returncode == 0 and stat.S_IMODE((tmp_path / "x.npz").stat().st_mode) == mode


def test_npz_skipped_fields_are_one_line_unless_listed(demo_run, tmp_path: Path) -> None:
    path, _ = demo_run
    done = run_simrec("convert", str(path), "-o", str(tmp_path / "a.npz"))
    assert done.returncode == 0, done.stderr
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("skipped")]
    assert re.match(r"skipped \d+ fields .*listed in __meta__; --list-skipped names them", line), line
    assert not [line for line in done.stdout.splitlines() if line.startswith("  ")]
    listed = run_simrec("convert", str(path), "-o", str(tmp_path / "b.npz"), "--list-skipped")
    count = int(line.split()[1])
    assert len([line for line in listed.stdout.splitlines() if line.startswith("  /")]) == count


def test_bad_numbers_name_no_internal_function() -> None:
    done = run_simrec("demo", "--envs", "many")
    assert (
        done.returncode == 2 and "argument --envs: expected a whole number above 0, got 'many'" in done.stderr
    )
    assert "_positive_int" not in done.stderr


def _options_with_a_type(parser: argparse.ArgumentParser, prefix: list[str]):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options_with_a_type(sub, [*prefix, name])
        elif action.type is not None and action.option_strings:
            yield prefix, action


def test_no_option_names_an_internal_function_for_a_bad_value() -> None:
    """argparse says "invalid <function name> value" when a type function raises ValueError."""
    seen = 0
    for prefix, action in _options_with_a_type(build_parser(), []):
        count = action.nargs if isinstance(action.nargs, int) else 1
        for bad in ("x", "-1", "nan"):
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.suppress(SystemExit):
                build_parser().parse_args([*prefix, action.option_strings[-1], *[bad] * count])
            assert not re.search(r"invalid _\w+ value|\b_[a-z]\w*\b", err.getvalue()), err.getvalue()
            seen += 1
    assert seen > 50


def test_a_truncated_log_warning_names_no_internal_class(demo_run, tmp_path: Path) -> None:
    path, _ = demo_run
    broken = tmp_path / "broken.mcap"
    broken.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    done = run_simrec("convert", str(broken), "-o", str(tmp_path / "x.npz"), "-t", "/clock")
    assert done.returncode == 0, done.stderr
    assert "truncated" in done.stderr and "could be read" in done.stderr, done.stderr
    assert "_Truncated" not in done.stderr and "Traceback" not in done.stderr


def test_record_says_what_overwrite_replaces(domain: str, tmp_path: Path) -> None:
    single = tmp_path / "one.mcap"
    single.write_bytes(b"x" * 2048)
    split = tmp_path / "run"
    split.mkdir()
    for name in ("run_0.mcap", "run_1.mcap"):
        (split / name).write_bytes(b"old")
    for args, said in [
        (["-o", str(single)], f"replacing {single} (2.0 KiB, --overwrite)"),
        (["-o", f"{split}.mcap", "-b", "1M"], f"replacing 2 files in {split}/ (--overwrite)"),
    ]:
        done = run_simrec("record", "-a", *args, "--overwrite", "--duration", "0.5", "-q", "--domain", domain)
        assert said in done.stderr, done.stderr  # (exit 1: nothing published on this domain)
        assert done.stderr.index("replacing") < done.stderr.index("recording all matching topics")
