"""The readers and repair from several threads at once: the same answers as from one thread.

Four threads each check, read (``logs.Log``, ``simrec_node.open``) and recover healthy and damaged
logs at the same time; every result must equal the one a single thread got first. Each thread
decompresses with its own zstd context (a shared one crashed, or called healthy files damaged).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import simrec_node
from simrec_node.logs import Log
from simrec_node.repair import check, recover

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from fuzz_logs import chunk_spans, write_base  # noqa: E402

THREADS = 4


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A healthy zstd log, an lz4 one, and damaged copies: a flipped byte inside a chunk, a
    truncated tail, a missing middle and a repeated chunk."""
    folder = tmp_path_factory.mktemp("threads")
    base = write_base(folder / "healthy.mcap")
    data = base.read_bytes()
    spans = chunk_spans(data)
    (a, b), (c, _) = spans[3], spans[len(spans) // 2]
    flipped = bytearray(data)
    flipped[(a + b) // 2] ^= 0xFF
    out = {"healthy": base}
    for name, content in (
        ("flipped", bytes(flipped)),
        ("truncated", data[: len(data) * 2 // 3]),
        ("middle", data[:a] + data[c:]),
        ("repeated", data[:b] + data[a:b] + data[b:]),
    ):
        out[name] = folder / f"{name}.mcap"
        out[name].write_bytes(content)
    return out


def _read_log(path: Path) -> tuple:
    with Log(path) as log:
        messages = [(m.topic, m.log_time, m.publish_time, bytes(m.data)) for m in log.messages()]
        skipped = list(log.skipped)
        # a seek into the middle, as play and compare.py do it
        middle = messages[len(messages) // 2][1] if messages else 0
        seek = [(m.topic, m.log_time) for m, _ in zip(log.messages(start_ns=middle), range(5), strict=False)]
    return messages, skipped, seek


def _open_log(path: Path) -> tuple:
    with simrec_node.open(path) as reader:
        rows = [(m.topic, m.log_time, bytes(m.data)) for m in reader.iter_raw()]
        decoded = sum(1 for _ in reader.iter())
        return rows, decoded, list(reader.problems), sorted(reader.topics)


def _check(path: Path) -> tuple:
    report = check(path)
    return report.healthy, report.messages, report.chunks, list(report.problems)


def _recover(path: Path, out: Path) -> tuple:
    target = out / f"{path.stem}-{threading.get_ident()}.mcap"
    report = recover(path, target, overwrite=True)
    if report.complete:
        return report.complete, report.messages, report.duplicates, None
    with Log(target) as log:
        copied = [(m.topic, m.log_time, bytes(m.data)) for m in log.messages()]
    target.unlink()
    return report.complete, report.messages, report.duplicates, copied


def _in_threads(work: Callable[[], dict], threads: int = THREADS) -> list[dict]:
    results: list[dict] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(work())
        except BaseException as exc:  # reported below, with the thread's own traceback
            errors.append(exc)

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(120)
    assert not any(thread.is_alive() for thread in started), "a thread hung"
    if errors:
        raise errors[0]
    return results


def test_checks_reads_and_recovers_in_four_threads_equal_one(logs: dict[str, Path], tmp_path: Path) -> None:
    def everything() -> dict:
        return {
            (name, what): fn(path)
            for name, path in logs.items()
            for what, fn in (
                ("check", _check),
                ("read", _read_log),
                ("open", _open_log),
                ("recover", lambda p: _recover(p, tmp_path)),
            )
        }

    alone = everything()
    assert alone["healthy", "check"][0] and not alone["healthy", "read"][1]
    assert not alone["flipped", "check"][0] and alone["flipped", "read"][1], "the damage must show"
    assert alone["repeated", "recover"][2] == 1  # the repeated chunk is copied once
    assert alone["repeated", "recover"][3] == [(t, lt, d) for t, lt, _, d in alone["healthy", "read"][0]]
    for result in _in_threads(everything):
        for key, expected in alone.items():
            assert result[key] == expected, key


def test_one_log_read_by_four_threads_at_once(logs: dict[str, Path]) -> None:
    """One opened ``Log`` (one map, one lazily built index) iterated by four threads together."""
    for name in ("healthy", "flipped"):
        with Log(logs[name]) as log:
            expected = [(m.topic, m.log_time, bytes(m.data)) for m in log.messages()]
            middle = expected[len(expected) // 2][1]
            wanted = [m for m in expected if m[1] >= middle]

            def work(log: Log = log, middle: int = middle) -> dict:
                whole = [(m.topic, m.log_time, bytes(m.data)) for m in log.messages()]
                later = [(m.topic, m.log_time, bytes(m.data)) for m in log.messages(start_ns=middle)]
                return {"whole": whole, "later": later}

            for result in _in_threads(work):
                assert result == {"whole": expected, "later": wanted}, name
