"""Damaged logs through info, doctor, recover, convert and play: no traceback, no hang.

A bounded run of ``benchmarks/fuzz_logs.py`` (the full one takes 1,000+ logs), in this process,
plus the cases that need a closer look: a zero tail, a repeated chunk, a missing middle, a
pipe, and concurrent checks of healthy files (a shared zstd decompressor used to crash them).
"""

from __future__ import annotations

import os
import random
import sys
import threading
from pathlib import Path

import pytest

from simrec_node.errors import SimrecError
from simrec_node.info import summarize
from simrec_node.logs import Log
from simrec_node.repair import check, recover

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from fuzz_logs import COMMANDS, chunk_spans, damaged, fuzz, write_base  # noqa: E402


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_base(tmp_path_factory.mktemp("fuzz") / "base.mcap")


def test_damaged_logs_never_end_in_a_traceback_or_a_hang(tmp_path: Path) -> None:
    outcome = fuzz(tmp_path, logs=40, seed=11, timeout=30)
    assert sum(outcome.counts[(c, "ok")] for c in COMMANDS) == 40 * len(COMMANDS), outcome.examples
    assert outcome.total("traceback") == 0 and outcome.total("hang") == 0


def test_every_kind_of_damage_is_made(base: Path) -> None:
    variants = damaged(base.read_bytes(), random.Random(5))
    kinds = {next(variants)[0] for _ in range(200)}
    assert kinds >= {"truncate", "flip", "zero", "middle", "duplicate", "reorder", "stats", "zero-tail"}


def test_a_zero_tail_is_named_where_it_starts(base: Path, tmp_path: Path) -> None:
    data = base.read_bytes()
    cut = chunk_spans(data)[-1][1]  # after the last chunk and its indexes: nothing lost
    path = tmp_path / "power_cut.mcap"
    path.write_bytes(data[:cut] + bytes(4 << 20))
    whole = summarize(base)
    s = summarize(path)
    assert s.message_count == whole.message_count
    named = [w for w in s.warnings if f"ends in {4 << 20} zero bytes" in w and f"up to byte {cut} of" in w]
    assert named, s.warnings


def test_a_repeated_chunk_is_read_once_and_recovered_once(base: Path, tmp_path: Path) -> None:
    data = base.read_bytes()
    a, b = chunk_spans(data)[2]
    path = tmp_path / "twice.mcap"
    path.write_bytes(data[:b] + data[a:b] + data[b:])
    with Log(base) as log:
        expected = [(m.topic, m.log_time) for m in log.messages()]
    with Log(path) as log:
        assert [(m.topic, m.log_time) for m in log.messages()] == expected
        assert any("repeats the one at byte" in line for line in log.skipped)
    report = recover(path, tmp_path / "fixed.mcap")
    assert report.duplicates == 1 and report.messages == len(expected)


def test_a_missing_middle_is_skipped_not_fatal(base: Path, tmp_path: Path) -> None:
    data = base.read_bytes()
    path = tmp_path / "middle.mcap"
    path.write_bytes(data[: len(data) // 3] + data[-len(data) // 3 :])
    report = check(path)
    assert not report.healthy and report.messages > 0
    fixed = recover(path, tmp_path / "fixed.mcap")
    assert 0 < fixed.messages < summarize(base).message_count


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_refused_at_once(tmp_path: Path) -> None:
    pipe = tmp_path / "run.mcap"
    os.mkfifo(pipe)
    for call in (summarize, check, Log):
        with pytest.raises(SimrecError, match="named pipe"):
            call(pipe)


def test_concurrent_checks_and_reads_agree(base: Path) -> None:
    """Eight threads check and read the same healthy file at once: each one sees it whole."""
    with Log(base) as log:
        expected = sum(1 for _ in log.messages())
    results: list[tuple[bool, int]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                with Log(base) as log:
                    count = sum(1 for _ in log.messages())
                results.append((check(base).healthy, count))
        except BaseException as exc:  # reported below, with the thread's own error
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == [(True, expected)] * 40
