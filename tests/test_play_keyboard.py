"""Keyboard control of `simrec play` in a real terminal (a pseudo-terminal as its stdin)."""

from __future__ import annotations

import os
import pty
import subprocess
import time
from pathlib import Path

from .conftest import simrec_command, start_process, wait_for_line
from .test_play import write_log


def player_status(domain: str) -> str:
    result = subprocess.run(
        simrec_command("player", "status", "--domain", domain), capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def wait_for_status(domain: str, needle: str, timeout_s: float = 15.0) -> str:
    deadline = time.monotonic() + timeout_s
    status = ""
    while time.monotonic() < deadline:
        status = player_status(domain)
        if needle in status:
            return status
        time.sleep(0.2)
    raise AssertionError(f"player never reported {needle!r}; last status: {status}")


def test_space_pauses_and_arrows_change_the_rate(domain: str, tmp_path: Path) -> None:
    log = write_log(tmp_path / "long.mcap", count=4000)  # 20 s of log time: plenty to steer
    controller, terminal = pty.openpty()
    process = start_process(
        simrec_command("play", str(log), "--wait-for-subscribers", "0"), domain, stdin=terminal
    )
    os.close(terminal)
    try:
        wait_for_line(process.stderr, "playing")
        wait_for_status(domain, "playing")
        os.write(controller, b" ")
        wait_for_status(domain, "paused")
        os.write(controller, b"\x1b[A")  # up arrow: +10%
        assert "x1.10" in wait_for_status(domain, "x1.10")
        os.write(controller, b"\x1b[B\x1b[B")  # down twice, in one read: 1.1 / 1.1 / 1.1
        wait_for_status(domain, "x0.91")
        os.write(controller, b" ")
        wait_for_status(domain, "playing")
    finally:
        process.terminate()
        process.communicate(timeout=20)
        os.close(controller)
