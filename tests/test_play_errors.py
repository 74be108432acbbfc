"""Bad input to `simrec play`: one clear line, a non-zero exit where nothing can be done."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from .conftest import simrec_command, start_process
from .test_play import COUNT, write_log


def run_play(domain: str, *args: str) -> subprocess.CompletedProcess:
    proc = start_process(
        simrec_command("play", *args, "--disable-keyboard-controls", "--wait-for-subscribers", "0"), domain
    )
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("simrec: error: "), result.stderr
    return lines[0]


def test_not_an_mcap_file(domain: str, tmp_path: Path) -> None:
    path = tmp_path / "notes.mcap"
    path.write_text("hello, not a log\n")
    assert "not an MCAP file" in one_error_line(run_play(domain, str(path)))


def test_topic_filter_matching_nothing(domain: str, tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.mcap", count=10)
    line = one_error_line(run_play(domain, str(log), "--topics", "/nope"))
    assert "no topic" in line and "/a/scalars" in line  # says what the log has


def test_bad_remap(domain: str, tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.mcap", count=10)
    assert "expected OLD:=NEW" in one_error_line(run_play(domain, str(log), "-m", "/a/scalars=/x"))
    assert "--remap" in one_error_line(run_play(domain, str(log), "-m", "/a/scalars:=/bad name"))


def test_port_in_use(domain: str, tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.mcap", count=10)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = one_error_line(run_play(domain, str(log), "--serve", "--port", str(port)))
    assert f"port {port}" in line and "already in use" in line


def test_truncated_file_plays_what_can_be_read(domain: str, tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.mcap", count=COUNT)
    data = log.read_bytes()
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(data[: len(data) * 2 // 3])  # no summary, no footer, a torn chunk
    result = run_play(domain, str(cut), "--rate", "10")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    played = int(result.stderr.split("played ")[1].split(" messages")[0].replace(",", ""))
    assert 0 < played < COUNT
    assert "not closed cleanly" in result.stderr
    assert "the rest was not played" in result.stderr
