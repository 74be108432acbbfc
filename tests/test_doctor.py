"""``simrec doctor`` on real files: healthy ones (ours and mcap's writer), truncated, corrupt
chunks, and summaries that disagree with the data."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from simrec_node.repair import check

from .repair_logs import chunk_spans, run_simrec, write_mcap_log, write_simrec_log


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("doctor") / "run.mcap"
    write_simrec_log(path, count=300)
    return path


def edited(src: Path, dst: Path, offset: int, data: bytes) -> Path:
    raw = bytearray(src.read_bytes())
    raw[offset : offset + len(data)] = data
    dst.write_bytes(raw)
    return dst


def summary_record(path: Path, opcode: int) -> int:
    """Offset of the first summary record with ``opcode`` (read from the footer by hand)."""
    raw = path.read_bytes()
    summary_start, offsets_start = struct.unpack_from("<QQ", raw, len(raw) - 8 - 20)
    pos = summary_start
    while pos < offsets_start:
        op, length = struct.unpack_from("<BQ", raw, pos)
        if op == opcode:
            return pos
        pos += 9 + length
    raise AssertionError(f"no record 0x{opcode:02x} in the summary")


def without_summary_crc(path: Path) -> None:
    """Zero the footer's summary CRC ("not computed") so an edited summary is judged on its content."""
    edited(path, path, path.stat().st_size - 8 - 4, b"\0\0\0\0")


def test_healthy_files_pass(log: Path, tmp_path: Path) -> None:
    report = check(log)
    assert report.healthy, report.problems
    assert report.messages == 300 and report.chunks == len(chunk_spans(log))
    other = tmp_path / "mcap.mcap"
    write_mcap_log(other)  # another writer's layout: repeated channels, lz4, summary offsets
    assert check(other).healthy, check(other).problems
    out = run_simrec("doctor", str(log))
    assert out.returncode == 0 and out.stdout.strip().endswith("bytes)") and "healthy" in out.stdout


def test_truncated_file_reports_where_and_suggests_recover(log: Path, tmp_path: Path) -> None:
    spans = chunk_spans(log)
    point = spans[4].start + 33
    broken = tmp_path / "cut.mcap"
    broken.write_bytes(log.read_bytes()[:point])
    out = run_simrec("doctor", str(broken))
    assert out.returncode == 1, out
    lines = out.stdout.strip().splitlines()
    assert "no footer" in lines[0]
    assert (
        f"truncated Chunk record (33 of {spans[4].end - spans[4].start} bytes) at byte {spans[4].start}"
        in lines[1]
    )
    assert f"simrec recover {broken}" in lines[-1]


def test_corrupt_chunk_is_named_by_offset(log: Path, tmp_path: Path) -> None:
    span = chunk_spans(log)[2]
    bad = edited(log, tmp_path / "crc.mcap", span.end - 20, b"\xde\xad\xbe\xef")
    report = check(bad)
    assert not report.healthy and report.damaged
    assert any(f"at byte {span.start} of" in p and "chunk:" in p for p in report.problems), report.problems
    # The summary still indexes the lost chunk: that is reported too.
    assert any("ChunkIndex" in p and str(span.start) in p for p in report.problems), report.problems


def test_statistics_that_disagree_with_the_data(log: Path, tmp_path: Path) -> None:
    at = summary_record(log, 0x0B)
    bad = edited(log, tmp_path / "stats.mcap", at + 9, struct.pack("<Q", 301))
    report = check(bad)
    assert "summary CRC (in the footer) does not match the summary section" in report.problems
    without_summary_crc(bad)
    assert check(bad).problems == ["Statistics: message_count is 301, the file holds 300"]


def test_chunk_index_and_message_index_checked_against_the_chunks(log: Path, tmp_path: Path) -> None:
    at = summary_record(log, 0x08)
    bad = edited(log, tmp_path / "chunkindex.mcap", at + 9 + 24, struct.pack("<Q", 12345))  # chunk_length
    without_summary_crc(bad)
    (problem,) = check(bad).problems
    assert problem.startswith(f"ChunkIndex at byte {at}") and "wrong length 12345" in problem

    span = chunk_spans(log)[1]
    # The first MessageIndex after the chunk: channel u16, byte length u32, then (log_time, offset).
    bad = edited(log, tmp_path / "msgindex.mcap", span.end + 9 + 6, struct.pack("<Q", 42))
    problems = check(bad).problems
    assert any(p.startswith(f"MessageIndex at byte {span.end}") for p in problems), problems


def test_user_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "empty.mcap").write_bytes(b"")
    (tmp_path / "text.mcap").write_text("hello\n" * 9)
    for name, needle in [
        ("missing.mcap", "no such file"),
        ("empty.mcap", "empty"),
        ("text.mcap", "not an MCAP"),
    ]:
        out = run_simrec("doctor", str(tmp_path / name))
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and needle in out.stderr, out.stderr
