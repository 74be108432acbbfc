"""User mistakes at the command line: one line on stderr, a non-zero exit, no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .conftest import simrec_command, start_process


def run_simrec(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(simrec_command(*args), capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess, needle: str) -> None:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "no such file"),
        (b"", "empty"),
        (b"hello, this is not a log\n" * 10, "not an MCAP file"),
        (b"\x89MCAP0\r\n" + b"\xff" * 64, "corrupt"),
    ],
)
def test_info_on_bad_files(tmp_path: Path, content: bytes | None, needle: str) -> None:
    path = tmp_path / "bad.mcap"
    if content is not None:
        path.write_bytes(content)
    assert_one_line_error(run_simrec("info", str(path)), needle)


def test_echo_and_hz_of_unknown_topic_list_what_exists(domain: str) -> None:
    publisher = start_process(
        [*simrec_command("demo", "--envs", "2", "--duration", "20", "--domain", domain)], domain
    )
    try:
        for verb in ("echo", "hz"):
            result = run_simrec("topic", verb, "/no/such/topic", "--wait", "3", "--domain", domain)
            assert_one_line_error(result, "no publisher on /no/such/topic")
            assert "/clock" in result.stderr  # the topics that do exist are named
    finally:
        publisher.terminate()
        publisher.wait(timeout=20)


def test_unknown_command_is_a_usage_error() -> None:
    result = run_simrec("recrod")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
