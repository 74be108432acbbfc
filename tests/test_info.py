"""Tests for `simrec_node.info` (`simrec info FILE`) on real MCAP files written with mcap's Writer."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from mcap.data_stream import ReadDataStream
from mcap.reader import make_reader
from mcap.records import Chunk, Message
from mcap.stream_reader import breakup_chunk
from mcap.writer import CompressionType, IndexType, Writer

from simrec_node.info import LogFileError, render_summary, summarize, summary_as_dict
from simrec_node.mcap.records import MAGIC as MCAP_MAGIC

T0 = 1_700_000_000_000_000_000  # ns
MS = 1_000_000

# topic -> (schema name, period in ns, message count)
TOPICS = {
    "/robot/state": ("simrec.StateBatch", 10 * MS, 101),
    "/clock": ("simrec.Clock", 100 * MS, 11),
    "/camera/tensor": ("simrec.Tensor", 0, 1),
}
TOTAL = sum(n for _, _, n in TOPICS.values())
RECORDING = {
    "simrec_version": "0.1.0",
    "command_line": "simrec record -o run.mcap --meta task=pick",
    "host": "sim-box-01",
    "start_time_ns": str(T0),
}
USER_META = {"task": "pick", "seed": "7"}
TOPIC_STATS = {
    "/robot/state": {"received": 106, "written": 101, "gap_dropped": 2, "queue_dropped": 3},
    "/clock": {"received": 11, "written": 11, "gap_dropped": 0, "queue_dropped": 0},
    "/lidar": {"received": 5, "written": 0, "gap_dropped": 0, "queue_dropped": 5},
}


def write_log(
    path: Path,
    *,
    chunk_size: int = 2048,
    compression: CompressionType = CompressionType.ZSTD,
    topic_stats: dict[str, object] | None = None,
    **writer_kwargs: object,
) -> Path:
    """Write a recording the way the recorder does: recording meta first, topic stats last."""
    stats = TOPIC_STATS if topic_stats is None else topic_stats
    with open(path, "wb") as f:
        w = Writer(f, chunk_size=chunk_size, compression=compression, **writer_kwargs)
        w.start(profile="", library="simrec-test")
        w.add_metadata("simrec.recording", RECORDING)
        w.add_metadata("simrec.meta", USER_META)
        events = []
        for topic, (schema_name, period, count) in TOPICS.items():
            sid = w.register_schema(schema_name, "protobuf", schema_name.encode())
            cid = w.register_channel(topic, "protobuf", sid)
            events += [(T0 + 5 * MS + i * period, cid, i) for i in range(count)]
        for t, cid, i in sorted(events):
            payload = bytes((i * 7 + k) % 251 for k in range(200))
            w.add_message(cid, log_time=t, publish_time=t, data=payload, sequence=i)
        w.add_metadata(
            "simrec.topic_stats",
            {k: v if isinstance(v, str) else json.dumps(v) for k, v in stats.items()},
        )
        w.finish()
    return path


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write_log(tmp_path / "run.mcap")


def by_topic(summary):
    return {t.topic: t for t in summary.topics}


# --- clean files: summary section ---------------------------------------------------------------


def test_summarize_counts_from_summary_section(log: Path) -> None:
    s = summarize(log)
    assert s.indexed is True
    assert s.warnings == []
    assert s.path == str(log)
    assert s.size_bytes == log.stat().st_size
    assert s.message_count == TOTAL
    assert s.start_ns == T0 + 5 * MS
    assert s.end_ns == T0 + 5 * MS + 1000 * MS
    assert s.duration_s == pytest.approx(1.0)
    assert s.compression == {"zstd"}
    assert s.chunk_count > 3
    assert s.library == "simrec-test"
    assert s.recording == RECORDING
    assert s.user_meta == USER_META


def test_per_topic_counts_frequency_and_drops(log: Path) -> None:
    topics = by_topic(summarize(log))
    assert [t.topic for t in summarize(log).topics] == sorted(topics)

    state = topics["/robot/state"]
    assert (state.type_name, state.message_encoding, state.count) == ("simrec.StateBatch", "protobuf", 101)
    assert state.first_time_ns == T0 + 5 * MS
    assert state.last_time_ns == T0 + 5 * MS + 100 * 10 * MS
    assert state.frequency_hz == pytest.approx(100.0)
    assert state.dropped == 5
    assert state.dropped_detail == {"gap_dropped": 2, "queue_dropped": 3}

    clock = topics["/clock"]
    assert clock.count == 11
    assert clock.frequency_hz == pytest.approx(10.0)
    assert clock.dropped == 0

    single = topics["/camera/tensor"]
    assert single.count == 1
    assert single.frequency_hz is None  # one message has no rate
    assert single.dropped == 0 and single.dropped_detail == {}

    # Subscribed but nothing written: still listed, so the drops are visible.
    lidar = topics["/lidar"]
    assert (lidar.count, lidar.dropped, lidar.type_name, lidar.first_time_ns) == (0, 5, "", None)


def test_accepts_pathlike_and_str(log: Path) -> None:
    assert summarize(str(log)).message_count == summarize(log).message_count


def test_uncompressed_and_lz4(tmp_path: Path) -> None:
    plain = summarize(write_log(tmp_path / "a.mcap", compression=CompressionType.NONE))
    assert plain.compression == {"none"}
    lz4 = summarize(write_log(tmp_path / "b.mcap", compression=CompressionType.LZ4))
    assert lz4.compression == {"lz4"}
    assert lz4.message_count == TOTAL


def test_bad_topic_stats_json_is_a_warning_not_an_error(tmp_path: Path) -> None:
    stats = {"/robot/state": "{not json", "/clock": json.dumps([1, 2])}
    s = summarize(write_log(tmp_path / "x.mcap", topic_stats=stats))
    topics = by_topic(s)
    assert topics["/robot/state"].dropped == 0
    assert topics["/robot/state"].count == 101
    assert any("/robot/state" in w and "JSON" in w for w in s.warnings)
    assert any("/clock" in w for w in s.warnings)


def test_empty_recording(tmp_path: Path) -> None:
    path = tmp_path / "empty.mcap"
    with open(path, "wb") as f:
        w = Writer(f)
        w.start()
        w.add_metadata("simrec.recording", RECORDING)
        w.finish()
    s = summarize(path)
    assert (s.message_count, s.start_ns, s.end_ns, s.duration_s, s.topics) == (0, None, None, 0.0, [])
    assert s.recording == RECORDING
    assert "Messages:" in render_summary(s)


def test_unchunked_file_approximates_topic_times(tmp_path: Path) -> None:
    s = summarize(write_log(tmp_path / "u.mcap", use_chunking=False))
    assert s.indexed is True
    assert s.message_count == TOTAL
    assert s.chunk_count == 0 and s.compression == set()
    assert by_topic(s)["/robot/state"].count == 101
    assert any("approximated" in w for w in s.warnings)


def test_file_without_statistics_is_scanned_fully(tmp_path: Path) -> None:
    s = summarize(write_log(tmp_path / "n.mcap", use_statistics=False))
    assert s.indexed is False
    assert s.message_count == TOTAL
    assert by_topic(s)["/robot/state"].dropped == 5
    assert any("full scan" in w for w in s.warnings)


# --- rendering ------------------------------------------------------------------------------------


def test_render_summary_has_header_and_topic_lines(log: Path) -> None:
    text = render_summary(summarize(log))
    for label in ("Files:", "Bag size:", "Storage id:", "Duration:", "Start:", "End:", "Messages:"):
        assert label in text
    assert "mcap" in text and "zstd" in text
    assert f"Messages:          {TOTAL}" in text
    assert str(T0 + 5 * MS) in text  # exact start ns next to the ISO time
    assert "Topic information:" in text
    state_line = next(line for line in text.splitlines() if "Topic: /robot/state" in line)
    for part in ("Type: simrec.StateBatch", "Count: 101", "Frequency: 100.00 Hz", "Dropped: 5"):
        assert part in state_line
    lidar_line = next(line for line in text.splitlines() if "Topic: /lidar" in line)
    assert "Count: 0" in lidar_line and "Dropped: 5" in lidar_line
    assert "simrec_version: 0.1.0" in text
    assert "task: pick" in text
    assert "Warnings:" not in text


def test_render_escapes_control_characters(tmp_path: Path) -> None:
    path = tmp_path / "ctl.mcap"
    with open(path, "wb") as f:
        w = Writer(f)
        w.start()
        w.add_metadata("simrec.meta", {"note": "a\nb\x1b[31m"})
        w.finish()
    text = render_summary(summarize(path))
    assert "\x1b" not in text
    assert "note: a\\nb\\x1b[31m" in text


def test_summary_as_dict_is_json_serializable(log: Path) -> None:
    data = json.loads(json.dumps(summary_as_dict(summarize(log))))
    assert data["compression"] == ["zstd"]
    assert data["message_count"] == TOTAL
    assert data["indexed"] is True
    state = next(t for t in data["topics"] if t["topic"] == "/robot/state")
    assert state["dropped_detail"] == {"gap_dropped": 2, "queue_dropped": 3}


# --- files without a summary: scan --------------------------------------------------------------


def chunk_layout(path: Path) -> list[tuple[int, int]]:
    """(end offset, message count) for each chunk of a complete file, read with the mcap library."""
    out = []
    with open(path, "rb") as f:
        summary = make_reader(f).get_summary()
        assert summary is not None
        for ci in summary.chunk_indexes:
            f.seek(ci.chunk_start_offset + 9)
            chunk = Chunk.read(ReadDataStream(f))
            n = sum(isinstance(r, Message) for r in breakup_chunk(chunk))
            out.append((ci.chunk_start_offset + ci.chunk_length, n))
    return out


def layout_end(layout: list[tuple[int, int]], size: int) -> int:
    """Where the scan must stop: after the last complete chunk and its message indexes."""
    return max([end for end, _ in layout if end <= size], default=0)


def cut(src: Path, dst: Path, size: int) -> Path:
    dst.write_bytes(src.read_bytes()[:size])
    return dst


def test_truncated_file_counts_complete_chunks(log: Path, tmp_path: Path) -> None:
    layout = chunk_layout(log)
    assert len(layout) >= 6
    data_size = log.stat().st_size
    cut_points = {
        layout[0][0] - 1,  # inside the first chunk: nothing complete yet
        layout[0][0],  # exactly at the end of the first chunk
        layout[1][0] + 5,  # inside the message index after chunk 2
        (layout[2][0] + layout[3][0]) // 2,  # middle of chunk 4
        layout[-1][0] + 3,
        data_size - 1,  # everything but the last magic byte
        data_size - 30,  # inside the footer
    }
    for size in sorted(cut_points):
        s = summarize(cut(log, tmp_path / f"cut_{size}.mcap", size))
        expected = sum(n for end, n in layout if end <= size)
        assert s.indexed is False, size
        assert s.message_count == expected, size
        assert sum(t.count for t in s.topics) == expected
        assert s.chunk_count == sum(1 for end, _ in layout if end <= size)
        assert s.recording == RECORDING  # written before the first chunk
        assert len(s.warnings) == 1
        assert "not closed cleanly" in s.warnings[0]
        if size < data_size - 30:
            match = re.search(r"scan up to byte (\d+) of (\d+)", s.warnings[0])
            assert match is not None and int(match[2]) == size
            # Stops after the last complete record: at or past the last complete chunk.
            assert layout_end(layout, size) <= int(match[1]) <= size
        if expected:
            assert s.compression == {"zstd"}
            assert s.start_ns == T0 + 5 * MS
        text = render_summary(s)
        assert "Warnings:" in text and "Indexed:" in text


def test_truncated_after_all_chunks_keeps_topic_stats(log: Path, tmp_path: Path) -> None:
    s = summarize(cut(log, tmp_path / "tail.mcap", log.stat().st_size - 1))
    assert s.message_count == TOTAL
    topics = by_topic(s)
    assert topics["/robot/state"].dropped == 5
    assert topics["/robot/state"].frequency_hz == pytest.approx(100.0)
    assert topics["/robot/state"].first_time_ns == T0 + 5 * MS


def test_corrupt_chunk_is_skipped_and_named(log: Path, tmp_path: Path) -> None:
    layout = chunk_layout(log)
    data = bytearray(log.read_bytes()[: layout[-1][0]])  # unfinished file
    third_chunk_start = layout[1][0] + 200  # well inside chunk 3's compressed records
    while third_chunk_start < layout[2][0] - 40:
        data[third_chunk_start] ^= 0xFF
        third_chunk_start += 7
    path = tmp_path / "corrupt_chunk.mcap"
    path.write_bytes(bytes(data))
    s = summarize(path)
    # the reader's one damage policy: go on past the bad chunk, count it, say where
    assert s.message_count == sum(n for _, n in layout) - layout[2][1]
    assert "not closed cleanly" in s.warnings[0]
    said = [int(m[1]) for w in s.warnings if (m := re.search(r"hunk.* at byte (\d+).*skipped", w))]
    assert len(said) == 1 and layout[1][0] <= said[0] < layout[2][0]


def test_corrupt_summary_falls_back_to_scan(log: Path, tmp_path: Path) -> None:
    data = bytearray(log.read_bytes())
    with open(log, "rb") as f:
        reader = make_reader(f)
        reader.get_summary()
    # Footer: opcode(1) length(8) summary_start(8) ...; point the summary at a huge bogus record.
    footer_at = len(data) - 8 - (1 + 8 + 8 + 8 + 4)
    summary_start = int.from_bytes(data[footer_at + 9 : footer_at + 17], "little")
    data[summary_start + 1 : summary_start + 9] = (2**40).to_bytes(8, "little")
    path = tmp_path / "bad_summary.mcap"
    path.write_bytes(bytes(data))
    s = summarize(path)
    assert s.indexed is False
    assert s.message_count == TOTAL
    assert any("summary section is unreadable" in w for w in s.warnings)


# --- bad input -----------------------------------------------------------------------------------


def error_for(path: os.PathLike[str] | str) -> str:
    with pytest.raises(LogFileError) as info:
        summarize(path)
    message = str(info.value)
    assert "\n" not in message
    assert "Traceback" not in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.mcap"
    assert error_for(path) == f"no such file: {path}"


def test_directory(tmp_path: Path, log: Path) -> None:
    message = error_for(tmp_path)
    assert "is a directory" in message
    assert str(log) in message  # points at the recording inside
    empty_dir = tmp_path / "d"
    empty_dir.mkdir()
    assert "is a directory" in error_for(empty_dir)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mcap"
    path.write_bytes(b"")
    assert "is empty" in error_for(path)


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a recording\n" * 10)
    assert error_for(path) == f"{path} is not an MCAP file (bad magic bytes)"


def test_tiny_non_mcap_file(tmp_path: Path) -> None:
    path = tmp_path / "x.mcap"
    path.write_bytes(b"abc")
    assert "not an MCAP file" in error_for(path)


def test_truncated_inside_magic(tmp_path: Path) -> None:
    path = tmp_path / "x.mcap"
    path.write_bytes(MCAP_MAGIC[:5])
    assert "truncated" in error_for(path)


@pytest.mark.parametrize(
    "tail",
    [
        b"",
        b"\x00" * 3,
        bytes(range(256)) * 4,
        b"\x01" + (10**12).to_bytes(8, "little") + b"xyz",  # header record claiming a huge length
        b"\x05" + (4).to_bytes(8, "little") + b"abcd",  # a well-formed record that is not a header
    ],
)
def test_garbage_after_magic(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "garbage.mcap"
    path.write_bytes(MCAP_MAGIC + tail)
    message = error_for(path)
    assert "corrupt at byte 8" in message
    assert str(path) in message


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read anything")
def test_permission_denied(log: Path) -> None:
    log.chmod(0)
    try:
        assert "permission denied" in error_for(log)
    finally:
        log.chmod(0o644)


def test_writer_index_types_none_still_summarizes(tmp_path: Path) -> None:
    # No chunk/metadata indexes: counts from statistics, metadata found by hopping over records.
    s = summarize(write_log(tmp_path / "i.mcap", index_types=IndexType.NONE))
    assert s.message_count == TOTAL
    assert s.indexed is True
    assert s.recording == RECORDING and s.user_meta == USER_META
    assert by_topic(s)["/robot/state"].dropped == 5


def test_episode_statistics_from_the_episodes_channel(tmp_path: Path) -> None:
    """Episodes logged by the in-process recorder show up as counts and return statistics."""
    from simrec_node.integrations import Recorder

    path = tmp_path / "episodes.mcap"
    with Recorder(path) as rec:
        for step in range(6):
            rec.log("/sim/reward", float(step), step=step)
        rec.episode_end(0, return_=1.0, length=3, success=True, terminated=True, step=2)
        rec.episode_end(1, return_=3.0, length=5, success=False, truncated=True, step=4)
        rec.episode_end(0, return_=5.0, length=2, step=5)
    summary = summarize(path)
    episodes = summary.episodes
    assert episodes is not None
    assert (episodes.count, episodes.envs) == (3, 2)
    assert (episodes.return_mean, episodes.return_min, episodes.return_max) == (3.0, 1.0, 5.0)
    assert episodes.length_mean == pytest.approx(10 / 3)
    assert episodes.success_rate == 0.5  # the third episode does not say
    assert (episodes.terminated, episodes.truncated) == (1, 1)
    text = render_summary(summary)
    assert "Episodes:" in text and "3 over 2 envs" in text
    assert summary_as_dict(summary)["episodes"]["count"] == 3
    assert summarize(write_log(tmp_path / "plain.mcap")).episodes is None
