"""Reading from a start time (``iter``/``iter_raw`` with ``start=``) returns exactly what a full read
filtered by time returns, whether the reader jumps through the chunk index or has to stream."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from mcap.writer import CompressionType, Writer

import simrec_node
from tests.convert_logs import MS, T0, clocks, write_log

TOPICS = ("/a", "/b", "/c")


def jittered(count: int, seed: int = 1) -> list[tuple[str, str, int, bytes]]:
    """Messages on three topics, some logged slightly out of order (a receive-time recorder does)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        topic = TOPICS[0] if i % 2 else TOPICS[1 + (i // 2) % 2]
        t = T0 + i * MS + rng.randint(0, 3) * MS
        out.append((topic, "simrec.Scalars", t, bytes([i % 251]) * rng.randint(20, 300)))
    return out


def as_rows(records) -> list[tuple]:
    return [(r.topic, r.log_time, r.publish_time, r.sequence, bytes(r.data)) for r in records]


TOPIC_SETS = (None, ["/a"], ["/b", "/c"])


def check_starts(log: Path, starts: list[float]) -> None:
    """For every start and topic set: the seek equals the full read filtered by time."""
    reader = simrec_node.open(log)
    for topics in TOPIC_SETS:
        full = as_rows(reader.iter_raw(topics))
        full_problems = list(reader.problems)
        assert full, "the log must hold messages"
        for start in starts:
            lo, _ = reader.time_window(start, None)
            got = as_rows(reader.iter_raw(topics, start=start))
            assert got == [row for row in full if row[1] >= lo], (topics, start)
            assert reader.problems == full_problems, (topics, start)


def starts_of(log: Path) -> list[float]:
    reader = simrec_node.open(log)
    duration = (reader.end_ns - reader.start_ns) / 1e9
    picks = [0.0, 0.001, duration / 3, duration / 2 + 0.0005, duration * 0.9, duration, duration + 1]
    return picks + [random.Random(7).uniform(0, duration) for _ in range(5)]


@pytest.fixture(scope="module")
def multi_chunk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seek") / "multi.mcap"
    return write_log(path, jittered(3000), chunk_size=16 * 1024)


def test_multi_chunk_file_seeks_to_exactly_the_later_messages(multi_chunk: Path) -> None:
    reader = simrec_node.open(multi_chunk)
    assert reader.summary.chunk_count > 10
    check_starts(multi_chunk, starts_of(multi_chunk))


def test_a_late_start_jumps_past_the_earlier_chunks(multi_chunk: Path) -> None:
    reader = simrec_node.open(multi_chunk)
    size = os.path.getsize(multi_chunk)
    seen: list[int] = []
    middle = (reader.end_ns - reader.start_ns) / 2e9
    rows = list(reader.iter_raw("/a", start=middle, progress=lambda done, _total: seen.append(done)))
    assert rows and rows[0].log_time >= reader.start_ns + middle * 1e9 - 1
    assert seen[0] > size // 3  # the first chunk read is past the earlier ones, none decompressed


def test_single_chunk_file(tmp_path: Path) -> None:
    path = write_log(tmp_path / "one.mcap", jittered(500, seed=2), chunk_size=1 << 24)
    assert simrec_node.open(path).summary.chunk_count == 1
    check_starts(path, starts_of(path))


def test_decoded_iteration_from_a_start(tmp_path: Path) -> None:
    path = write_log(tmp_path / "clock.mcap", clocks(400, period_ns=5 * MS), chunk_size=2048)
    reader = simrec_node.open(path)
    full = [(t, m.step) for _, t, m in reader.iter("/clock")]
    got = [(t, m.step) for _, t, m in reader.iter("/clock", start=1.0)]
    assert got == [row for row in full if row[0] >= reader.start_ns + 1_000_000_000]
    assert got[0][1] == 2000 and len(got) == 200


def test_split_set(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    messages = jittered(2400, seed=3)
    messages.sort(key=lambda m: m[2])
    for n, part in enumerate((messages[:700], messages[700:1500], messages[1500:])):
        write_log(run / f"run_{n}.mcap", part, chunk_size=8 * 1024)
    check_starts(run, starts_of(run))


def test_truncated_file_without_footer(multi_chunk: Path, tmp_path: Path) -> None:
    data = multi_chunk.read_bytes()
    path = tmp_path / "crashed.mcap"
    path.write_bytes(data[: int(len(data) * 0.6)])
    reader = simrec_node.open(path)
    assert not reader.summary.indexed
    check_starts(path, starts_of(path))
    list(reader.iter_raw(start=0.5))
    assert len(reader.problems) == 1 and "truncated" in reader.problems[0]


@pytest.mark.parametrize("chunked", [True, False])
def test_file_of_another_writer(tmp_path: Path, chunked: bool) -> None:
    """mcap's own Writer: chunks whose times overlap (out-of-order log times), or no chunks."""
    path = tmp_path / "other.mcap"
    with open(path, "wb") as f:
        writer = Writer(f, chunk_size=4096, compression=CompressionType.LZ4, use_chunking=chunked)
        writer.start()
        schema = writer.register_schema("simrec.Scalars", "protobuf", b"")
        ids = {topic: writer.register_channel(topic, "protobuf", schema) for topic in TOPICS}
        for i, (topic, _, t, data) in enumerate(jittered(1500, seed=4)):
            writer.add_message(ids[topic], t, data, t - MS, sequence=i)
        writer.finish()
    check_starts(path, starts_of(path))
