"""Mistakes that used to end silently or in a traceback: each is one line and a non-zero exit
where nothing useful was done (issue 18, section 3), through the real ``simrec`` command."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from mcap.writer import Writer

from simrec_node.msgs import encode_raw_image

from .conftest import REPO, simrec_command
from .convert_logs import MS, T0, clocks, write_log

SECOND = 1000 * MS


def run_simrec(*args: str, domain: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    extra = ("--domain", domain) if domain else ()
    return subprocess.run(
        simrec_command(*args, *extra), cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )


def error_line(result: subprocess.CompletedProcess, code: int = 2) -> str:
    """The one ``simrec: error:`` line of a failed run (argparse's usage lines may come before it)."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.fixture
def three_second_log(tmp_path: Path) -> Path:
    """A protobuf log 3 s long: /clock and a small /camera at 10 Hz."""
    frames = [
        (
            "/camera",
            "foxglove.RawImage",
            T0 + i * SECOND // 10,
            encode_raw_image(np.full((8, 8, 3), i, np.uint8)),
        )
        for i in range(31)
    ]
    return write_log(tmp_path / "short.mcap", clocks(31, period_ns=SECOND // 10) + frames)


@pytest.mark.parametrize("out", ["late.npz", "late.mp4"])
def test_convert_start_past_the_end_says_how_long_the_log_is(
    three_second_log: Path, tmp_path: Path, out: str
) -> None:
    result = run_simrec("convert", str(three_second_log), "-o", str(tmp_path / out), "--start", "500")
    line = error_line(result)
    assert "--start 500 is past the end" in line and "3.000 s long" in line
    assert not (tmp_path / out).exists()


def test_convert_end_before_the_log_starts(three_second_log: Path, tmp_path: Path) -> None:
    result = run_simrec("convert", str(three_second_log), "-o", str(tmp_path / "x.npz"), "--end", "-1")
    assert "--end -1 is before the log starts" in error_line(result)


def test_record_refuses_a_negative_duration(tmp_path: Path) -> None:
    result = run_simrec("record", "-a", "-o", str(tmp_path / "x.mcap"), "--duration", "-1")
    assert "argument --duration: expected a number above 0, got '-1'" in error_line(result)
    assert not (tmp_path / "x.mcap").exists()


def test_record_all_with_named_topics_is_refused(tmp_path: Path) -> None:
    result = run_simrec("record", "-a", "/sim/state", "/clock", "-o", str(tmp_path / "x.mcap"))
    line = error_line(result)
    assert "--all takes every topic" in line and "/sim/state /clock" in line and "drop --all" in line
    assert not (tmp_path / "x.mcap").exists()


def test_record_with_no_publisher_names_the_domain(domain: str, tmp_path: Path) -> None:
    result = run_simrec(
        "record", "-a", "-o", str(tmp_path / "x.mcap"), "--duration", "1.5", "-q", domain=domain
    )
    line = error_line(result, code=1)
    assert f"nothing was found to record on graph domain {domain!r}" in line
    assert f"simrec topic list --domain {domain}" in line


def _json_log(path: Path) -> Path:
    with path.open("wb") as f:
        writer = Writer(f)
        writer.start()
        schema = writer.register_schema(name="Pose", encoding="jsonschema", data=b'{"type": "object"}')
        channel = writer.register_channel(topic="/pose", message_encoding="json", schema_id=schema)
        for i in range(20):
            data = json.dumps({"x": i}).encode()
            writer.add_message(
                channel_id=channel, log_time=i * MS, publish_time=i * MS, data=data, sequence=i
            )
        writer.finish()
    return path


def test_converting_a_log_that_is_not_protobuf_says_why(tmp_path: Path) -> None:
    result = run_simrec("convert", str(_json_log(tmp_path / "json.mcap")), "-o", str(tmp_path / "x.npz"))
    line = error_line(result)
    assert "nothing converted" in line and "encoded as 'json'" in line and "only protobuf" in line
    assert not (tmp_path / "x.npz").exists()


def test_topic_list_on_an_empty_domain_names_the_domain(domain: str) -> None:
    """Exit 0 as ``ros2 topic list``: an empty graph is an answer; stdout stays the (empty) list."""
    result = run_simrec("topic", "list", "--wait", "0.5", domain=domain)
    assert result.returncode == 0 and result.stdout == "", result
    assert f"no topic has a publisher on graph domain {domain!r}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_launch_of_a_binary_file(tmp_path: Path) -> None:
    binary = tmp_path / "picture.launch.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    line = error_line(run_simrec("launch", str(binary)))
    assert f"{binary} is not a launch file: byte 0 is not UTF-8 text" in line


@pytest.mark.parametrize("out", ["x.npz", "x.mp4"])
def test_convert_to_a_place_the_system_refuses(three_second_log: Path, out: str) -> None:
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc here")
    args = ["-t", "/clock"] if out == "x.npz" else []
    result = run_simrec("convert", str(three_second_log), "-o", f"/proc/{out}", *args)
    line = error_line(result)
    assert f"/proc/{out}" in line


def test_recover_to_a_place_the_system_refuses(three_second_log: Path, tmp_path: Path) -> None:
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc here")
    broken = tmp_path / "broken.mcap"
    broken.write_bytes(three_second_log.read_bytes()[:-200])  # the summary and footer cut off
    line = error_line(run_simrec("recover", str(broken), "-o", "/proc/fixed.mcap"))
    assert "/proc/fixed.mcap" in line
