"""Progress through the real CLI: tqdm's bar with rate and time left on a terminal (a pty),
sparse plain lines on a pipe, nothing with --quiet; record's status line fits the terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

import numpy as np
import pytest

from simrec_node.msgs import encode_raw_image
from tests.conftest import REPO, simrec_command
from tests.convert_logs import T0, write_log

BAR = re.compile(r"\d+%\|.*\| \S+/\S+ \[\d\d:\d\d<(\?|\d\d:\d\d)")  # 45%|████ | 12M/27M [00:02<00:03


def in_pty(*args: str, columns: int = 120, timeout_s: float = 60) -> tuple[int, str, str]:
    """Run ``simrec ARGS`` with stderr on a pseudo-terminal of ``columns``; (code, stdout, stderr)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        simrec_command(*args),
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    err = b""
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                err += chunk
            elif proc.poll() is not None:
                break
        out = proc.stdout.read().decode()
        code = proc.wait(timeout=10)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return code, out, err.decode(errors="replace")


def in_pipe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(simrec_command(*args), cwd=REPO, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def camera_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    messages = [
        ("/cam", "foxglove.RawImage", T0 + i * 33_333_333, encode_raw_image(frame, encoding="rgb8"))
        for i, frame in enumerate(rng.integers(0, 255, (60, 48, 64, 3), dtype=np.uint8))
    ]
    return write_log(tmp_path_factory.mktemp("progress") / "cam.mcap", messages)


def test_convert_draws_a_bar_with_rate_and_time_left_on_a_terminal(camera_log: Path, tmp_path: Path) -> None:
    code, out, err = in_pty("convert", str(camera_log), "-o", str(tmp_path / "cam.mp4"))
    assert code == 0, err
    assert "wrote" in out
    assert f"converting {camera_log}:" in err and BAR.search(err), err
    assert "B/s" in err, err


def test_convert_on_a_pipe_writes_plain_lines_and_quiet_nothing(camera_log: Path, tmp_path: Path) -> None:
    piped = in_pipe("convert", str(camera_log), "-o", str(tmp_path / "a.mp4"))
    assert piped.returncode == 0, piped.stderr
    assert "\r" not in piped.stderr and "\x1b" not in piped.stderr and "%|" not in piped.stderr
    code, out, err = in_pty("convert", str(camera_log), "-o", str(tmp_path / "b.mp4"), "--quiet")
    assert code == 0 and out == "" and err == "", (out, err)


def test_recover_draws_a_bar_on_a_terminal(camera_log: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mcap"
    broken.write_bytes(camera_log.read_bytes()[: camera_log.stat().st_size // 2])
    code, out, err = in_pty("recover", str(broken), "-o", str(tmp_path / "fixed.mcap"))
    assert code == 0, err
    assert "recovered" in out or "messages" in out, out
    assert f"recovering {broken}:" in err and BAR.search(err), err


def test_doctor_draws_a_bar_only_for_big_files(camera_log: Path, tmp_path: Path) -> None:
    code, out, err = in_pty("doctor", str(camera_log))
    assert code == 0 and "healthy" in out and err == "", (out, err)  # small: checked at once, no bar
    big = tmp_path / "big.mcap"
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (24, 480, 640, 3), dtype=np.uint8)  # 22 MiB: uncompressible
    messages = [
        ("/cam", "foxglove.RawImage", T0 + i * 10_000_000, encode_raw_image(frames[i % 24], encoding="rgb8"))
        for i in range(40)
    ]
    write_log(big, messages, compression="none")
    assert big.stat().st_size > 32 * 1024 * 1024
    code, out, err = in_pty("doctor", str(big))
    assert code == 0 and "healthy" in out, (out, err)
    assert f"checking {big}:" in err and BAR.search(err), err
    code, out, err = in_pty("doctor", str(big), "-q")
    assert code == 0 and err == "", err


def test_play_draws_a_bar_over_the_log_seconds(camera_log: Path, domain: str) -> None:
    code, _, err = in_pty(
        "play", str(camera_log), "--domain", domain, "-r", "4", "--wait-for-subscribers", "0"
    )
    assert code == 0, err
    assert re.search(r"\d+%\|.*\| [\d.]+/2\.0 s \[\d\d:\d\d<", err), err
    assert "played 60 messages" in err


def test_record_status_line_fits_a_narrow_terminal(domain: str, tmp_path: Path) -> None:
    args = ("record", "-a", "-o", str(tmp_path / "r.mcap"), "--duration", "1.5", "--domain", domain)
    code, _, err = in_pty(*args, "--disable-keyboard-controls", columns=40)
    assert code in (0, 1), err
    shown = [part for part in re.split(r"[\r\n]", err) if "recording" in part and " s " in part]
    assert shown, err  # the live line: "  0.5 s  recording  0 msgs  0 B ..."
    assert all(len(part.rstrip()) <= 40 for part in shown), shown  # trimmed, never wrapped
    piped = in_pipe(*args)
    assert "\r" not in piped.stderr and "\x1b" not in piped.stderr, piped.stderr
