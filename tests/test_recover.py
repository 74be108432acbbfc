"""``simrec recover`` on real damaged files: truncated at many points, corrupt chunks, bad input,
and files left behind by a SIGKILLed ``simrec record``."""

from __future__ import annotations

import random
import re
import signal
import struct
import threading
import time
from pathlib import Path

import pytest
from mcap.reader import make_reader

from simrec_node.graph import Node
from simrec_node.repair import RepairError, recover

from .conftest import publisher_command, simrec_command, start_process, wait_for_line
from .mcap_interop import node_validate
from .repair_logs import (
    METADATA,
    chunk_spans,
    read_metadata,
    read_rows,
    run_simrec,
    write_mcap_log,
    write_simrec_log,
)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list, list]:
    path = tmp_path_factory.mktemp("recover") / "run.mcap"
    rows = write_simrec_log(path)
    spans = chunk_spans(path)
    assert len(spans) >= 10 and sum(s.messages for s in spans) == len(rows)
    return path, rows, spans


def cut(src: Path, dst: Path, size: int) -> Path:
    dst.write_bytes(src.read_bytes()[:size])
    return dst


def expected_after_cut(rows: list, spans: list, size: int) -> list:
    """Messages of the chunks that lie wholly before ``size`` (the writer writes in order)."""
    return rows[: sum(s.messages for s in spans if s.end <= size)]


def test_truncated_at_many_points_keeps_exactly_the_complete_chunks(log, tmp_path: Path) -> None:
    path, rows, spans = log
    size = path.stat().st_size
    rng = random.Random(3)
    # Chunk boundaries and one byte either side, plus random cuts; the end of the data is before
    # DataEnd, which a cut into the summary section also leaves intact.
    points = {9, 40, spans[0].start + 5}
    for span in rng.sample(spans, 4):
        points |= {span.end - 1, span.end, span.end + 1}
    points |= {rng.randrange(spans[0].start, size - 30) for _ in range(12)}
    validated = 0
    for point in sorted(points):
        broken = cut(path, tmp_path / f"cut{point}.mcap", point)
        fixed = tmp_path / f"fixed{point}.mcap"
        report = recover(broken, fixed)
        expected = expected_after_cut(rows, spans, point)
        assert read_rows(fixed) == expected, f"cut at {point}"
        assert report.messages == len(expected)
        if point < spans[-1].end:
            # Where it broke: either a truncated record, or the data simply stops.
            assert report.breaks or report.unclosed_at == point
        if validated < 4 and expected and point % 2:
            assert node_validate(fixed)["messageCount"] == len(expected)
            validated += 1
    assert validated >= 1


def test_recovered_file_keeps_channels_schemas_metadata_and_compression(log, tmp_path: Path) -> None:
    path, _, spans = log
    broken = cut(path, tmp_path / "broken.mcap", spans[-2].end + 100)
    fixed = tmp_path / "fixed.mcap"
    report = recover(broken, fixed)
    assert report.compression == "zstd"
    with open(fixed, "rb") as f:
        reader = make_reader(f)
        summary = reader.get_summary()
        assert summary is not None and summary.statistics.message_count == report.messages
        assert {c.topic: c.metadata for c in summary.channels.values()} == {
            t: {"k": t} for t in ("/sim/state", "/clock", "/camera/rgb")
        }
        assert {s.name for s in summary.schemas.values()} == {"test.Blob"}
        assert {ci.compression for ci in summary.chunk_indexes} <= {"zstd", ""}
    # The first metadata record precedes the data; the last one is lost with the tail.
    assert read_metadata(fixed) == {"simrec.recording": METADATA["simrec.recording"]}
    assert report.topics == {t: sum(r[0] == t for r in read_rows(fixed)) for t in report.topics}


def test_truncated_in_the_summary_keeps_every_message_and_metadata(log, tmp_path: Path) -> None:
    path, rows, _ = log
    broken = cut(path, tmp_path / "broken.mcap", path.stat().st_size - 40)
    fixed = tmp_path / "fixed.mcap"
    report = recover(broken, fixed)
    assert read_rows(fixed) == rows
    assert read_metadata(fixed) == METADATA
    assert report.breaks == []  # the data section ended with DataEnd: nothing was damaged


def corrupt(path: Path, dst: Path, offset: int, data: bytes) -> Path:
    raw = bytearray(path.read_bytes())
    raw[offset : offset + len(data)] = data
    dst.write_bytes(raw)
    return dst


def test_corrupt_chunk_in_the_middle_is_skipped_and_later_chunks_kept(log, tmp_path: Path) -> None:
    path, rows, spans = log
    bad = spans[len(spans) // 2]
    broken = corrupt(path, tmp_path / "crc.mcap", bad.end - 50, b"\x00\xff\x00\xff")
    fixed = tmp_path / "fixed.mcap"
    report = recover(broken, fixed)
    before = sum(s.messages for s in spans[: len(spans) // 2])
    assert read_rows(fixed) == rows[:before] + rows[before + bad.messages :]
    (damage,) = report.breaks
    assert damage.offset == bad.start and damage.resumed_at == bad.end
    text = "\n".join(report.lines())
    assert f"at byte {bad.start} of" in text and "continued" in text
    assert re.search(r"chunk: (CRC mismatch|cannot decompress)", text), text
    node_validate(fixed)


def test_chunk_with_a_garbage_length_is_resynced_past(log, tmp_path: Path) -> None:
    path, rows, spans = log
    bad = spans[3]
    broken = corrupt(path, tmp_path / "len.mcap", bad.start + 1, struct.pack("<Q", 1 << 50))
    fixed = tmp_path / "fixed.mcap"
    report = recover(broken, fixed)
    before = sum(s.messages for s in spans[:3])
    assert read_rows(fixed) == rows[:before] + rows[before + bad.messages :]
    assert report.breaks[0].offset == bad.start and report.breaks[0].resumed_at == spans[4].start


def test_mcap_library_files_lz4_and_unchunked(tmp_path: Path) -> None:
    path = tmp_path / "lz4.mcap"
    rows = write_mcap_log(path)
    spans = chunk_spans(path)
    broken = cut(path, tmp_path / "lz4_cut.mcap", spans[-3].end + 10)
    report = recover(broken, tmp_path / "lz4_fixed.mcap")
    assert report.compression == "lz4"
    assert read_rows(tmp_path / "lz4_fixed.mcap") == expected_after_cut(rows, spans, spans[-3].end + 10)

    loose = tmp_path / "loose.mcap"
    rows = write_mcap_log(loose, chunked=False)
    broken = cut(loose, tmp_path / "loose_cut.mcap", loose.stat().st_size * 2 // 3)
    report = recover(broken, tmp_path / "loose_fixed.mcap")
    got = read_rows(tmp_path / "loose_fixed.mcap")
    assert 0 < len(got) < len(rows) and got == rows[: len(got)]
    assert report.compression == "none" and report.breaks
    assert read_metadata(tmp_path / "loose_fixed.mcap") == {"simrec.recording": METADATA["simrec.recording"]}


# ------------------------------------------------------------------ CLI and bad input


def test_cli_prints_counts_and_where_it_broke(log, tmp_path: Path) -> None:
    path, rows, spans = log
    point = spans[6].start + 100
    assert point < spans[6].end
    broken = cut(path, tmp_path / "broken.mcap", point)
    out = run_simrec("recover", str(broken), "-o", str(tmp_path / "fixed.mcap"), "-q")
    assert out.returncode == 0, out.stderr
    n = len(expected_after_cut(rows, spans, point))
    assert f"recovered {n} message(s) on 3 topic(s)" in out.stdout
    length = spans[6].end - spans[6].start
    where = f"truncated Chunk record (100 of {length} bytes) at byte {spans[6].start} of {point}"
    assert f"file broke: {where}" in out.stdout
    assert re.search(r"\d+ MB/s", out.stdout)
    assert out.stderr == ""


def assert_one_line_error(result, needle: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr


def test_bad_inputs_are_one_line_and_leave_no_output(log, tmp_path: Path) -> None:
    path, _, spans = log
    out = tmp_path / "out.mcap"
    (tmp_path / "empty.mcap").write_bytes(b"")
    (tmp_path / "text.mcap").write_text("not a log\n" * 20)
    cases = [
        (tmp_path / "missing.mcap", "no such file"),
        (tmp_path / "empty.mcap", "empty"),
        (tmp_path / "text.mcap", "not an MCAP file"),
    ]
    for src, needle in cases:
        assert_one_line_error(run_simrec("recover", str(src), "-o", str(out)), needle)
    broken = cut(path, tmp_path / "broken.mcap", spans[2].end + 7)
    assert_one_line_error(run_simrec("recover", str(broken), "-o", str(broken)), "is the input file")
    out.write_bytes(b"keep me")
    assert_one_line_error(run_simrec("recover", str(broken), "-o", str(out)), "already exists")
    assert out.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "broken.mcap",
        "empty.mcap",
        "out.mcap",
        "text.mcap",
    ]
    done = run_simrec("recover", str(broken), "-o", str(out), "--overwrite", "-q")
    assert done.returncode == 0 and len(read_rows(out)) == sum(s.messages for s in spans[:3])


def test_complete_file_is_left_alone(log, tmp_path: Path) -> None:
    path, _, _ = log
    out = run_simrec("recover", str(path), "-o", str(tmp_path / "copy.mcap"))
    assert out.returncode == 0
    assert out.stdout.strip() == f"{path} is a complete MCAP file; nothing to recover"
    assert not (tmp_path / "copy.mcap").exists()


def test_library_error_is_repair_error(tmp_path: Path) -> None:
    with pytest.raises(RepairError, match="no such file"):
        recover(tmp_path / "nope.mcap", tmp_path / "out.mcap")


# ------------------------------------------------------------------ SIGKILL of a real recorder

FLUSH_S = 0.2
MARGIN_S = 1.0  # scheduling slack on a loaded 2-core machine; without the flush, all would be lost


class Witness:
    """A second subscriber in this process: when each message was seen on the graph (wall clock)."""

    def __init__(self, topic: str) -> None:
        self.seen: list[tuple[int, float]] = []
        self._lock = threading.Lock()
        self.node = Node("recover_witness")
        self.node.create_subscription(None, topic, self._on_message)

    def _on_message(self, message) -> None:
        with self._lock:
            self.seen.append((message.sequence, time.time()))

    def before(self, deadline: float) -> list[int]:
        with self._lock:
            return [seq for seq, t in self.seen if t < deadline]


def test_sigkilled_recorder_loses_at_most_one_flush_interval(domain: str, tmp_path: Path) -> None:
    if "--flush-interval" not in run_simrec("record", "--help").stdout:
        pytest.skip("simrec record has no --flush-interval yet")
    topic = "/test/data"
    rng = random.Random()
    witness = Witness(topic)
    publisher = start_process(
        publisher_command("--topic", topic, "--count", "1000000", "--rate", "300", "--linger", "0"), domain
    )
    try:
        wait_for_line(publisher.stdout, "ready")
        for run in range(3):
            output = tmp_path / f"killed{run}.mcap"
            recorder = start_process(
                simrec_command("record", topic, "-o", str(output), "--flush-interval", str(FLUSH_S), "-q"),
                domain,
            )
            wait_for_line(recorder.stderr, "recording")
            time.sleep(rng.uniform(2.0, 3.0))
            killed_at = time.time()
            recorder.send_signal(signal.SIGKILL)
            recorder.wait(timeout=10)

            fixed = tmp_path / f"fixed{run}.mcap"
            out = run_simrec("recover", str(output), "-o", str(fixed), "-q")
            assert out.returncode == 0, out.stderr
            sequences = [row[1] for row in read_rows(fixed)]
            assert sequences, f"nothing recovered:\n{out.stdout}"
            assert sequences == sorted(set(sequences)), "out of order or duplicated"
            must_have = [s for s in witness.before(killed_at - FLUSH_S - MARGIN_S) if s >= sequences[0]]
            assert len(must_have) > 50, "the publisher did not run long enough to test anything"
            missing = sorted(set(must_have) - set(sequences))
            assert not missing, (
                f"run {run}: {len(missing)} message(s) lost before the last flush: {missing[:5]}"
            )
    finally:
        publisher.kill()
        publisher.wait(timeout=10)
        witness.node.shutdown()
