"""Shared fixtures: a private graph domain per test, and running ``simrec`` for real."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HELPERS = Path(__file__).resolve().parent / "helpers"


@pytest.fixture
def domain(monkeypatch: pytest.MonkeyPatch) -> str:
    """A graph domain no other test (or concurrent run) uses."""
    name = "t" + uuid.uuid4().hex[:12]
    monkeypatch.setenv("SIMREC_DOMAIN", name)
    return name


def simrec_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "simrec_node.cli.main", *args]


def start_process(command: list[str], domain: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "SIMREC_DOMAIN": domain, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs
    )


def read_until(stream, needle: str, timeout_s: float = 20.0) -> list[str]:
    """Read lines until one contains ``needle``: every line read, that one last; fail with what
    was read otherwise."""
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"never saw {needle!r}; got:\n{''.join(seen)}")


def wait_for_line(stream, needle: str, timeout_s: float = 20.0) -> str:
    """Read lines until one contains ``needle``, and return it (see ``read_until``)."""
    return read_until(stream, needle, timeout_s)[-1]


def drain(q: queue.Queue, count: int, timeout_s: float = 10.0) -> list:
    """Up to ``count`` items from ``q``, waiting at most ``timeout_s`` in all."""
    items = []
    deadline = time.monotonic() + timeout_s
    while len(items) < count and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            items.append(q.get(timeout=0.1))
    return items


def publisher_command(*args: str) -> list[str]:
    return [sys.executable, str(HELPERS / "publisher.py"), *args]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB file system of its own, so the test fills a disk without filling the machine's."""
    mount = tmp_path / "small"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
