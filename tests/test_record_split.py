"""Splitting and snapshots: real ``simrec record`` processes fed by real publishers."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from mcap.reader import make_reader

from simrec_node.graph import Node
from simrec_node.msgs import Scalars
from simrec_node.record import RecorderNode, RecordError, RecordOptions, TopicSelection

from .conftest import publisher_command, simrec_command, start_process, wait_for_line
from .mcap_interop import node_validate
from .test_record import start_recorder, stop_recorder


def split_files(directory: Path) -> list[Path]:
    files = sorted(directory.glob(f"{directory.name}_*.mcap"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    assert [int(p.stem.rsplit("_", 1)[1]) for p in files] == list(range(len(files)))  # numbered, no holes
    return files


def file_messages(path: Path) -> tuple[list[tuple[int, int]], dict[str, dict[str, str]]]:
    """(sequence, log_time) of every message of one file read on its own, and its metadata."""
    with path.open("rb") as f:
        reader = make_reader(f, validate_crcs=True)
        messages = [(m.sequence, m.log_time) for _, _, m in reader.iter_messages(log_time_order=False)]
        assert reader.get_summary().statistics.message_count == len(messages)
        metadata = {m.name: dict(m.metadata) for m in reader.iter_metadata()}
    return messages, metadata


def record_stream(domain: str, output: Path, count: int, rate: float, size: int, *limits: str) -> str:
    recorder = start_recorder(domain, output, "/stream", "--stats-period", "0", *limits)
    publisher = start_process(
        publisher_command(
            "--topic", "/stream", "--type", "custom", "--count", str(count), "--rate", str(rate),
            "--size", str(size), "--linger", "0.5",
        ),
        domain,
    )  # fmt: skip
    _, err = publisher.communicate(timeout=60)
    assert publisher.returncode == 0, err
    return stop_recorder(recorder)


def assert_union_is_the_stream(files: list[Path], count: int) -> None:
    """The files together hold the stream exactly once, in order; each file on its own is valid."""
    sequences: list[int] = []
    last_time = 0
    for index, path in enumerate(files):
        messages, metadata = file_messages(path)
        assert metadata["simrec.split"] == {"index": str(index), "name": path.parent.name}
        assert "simrec.recording" in metadata and "simrec.topic_stats" in metadata
        stats = json.loads(metadata["simrec.topic_stats"]["/stream"])
        assert stats["written"] == len(messages)  # each file's stats count its own messages
        assert min(t for _, t in messages) >= last_time  # no overlap at the seams
        last_time = max(t for _, t in messages)
        sequences += [s for s, _ in messages]
    assert sequences == list(range(count))


def test_split_by_size_keeps_every_message_once(domain: str, tmp_path: Path) -> None:
    output = tmp_path / "sized"
    err = record_stream(domain, output, 1500, 0, 5000, "-b", "1M", "--compression", "none")
    files = split_files(output)
    assert len(files) >= 5
    for path in files[:-1]:
        assert 0.9 * (1 << 20) <= path.stat().st_size <= 1.05 * (1 << 20)
    assert_union_is_the_stream(files, 1500)
    assert f"wrote {output}/ ({len(files)} files): 1,500 messages" in err
    assert node_validate(files[1])["messageCount"] > 0  # the independent reader agrees


def test_split_by_duration(domain: str, tmp_path: Path) -> None:
    output = tmp_path / "timed.mcap"  # the .mcap is dropped: a split recording is a directory
    record_stream(domain, output, 350, 100, 10, "--max-bag-duration", "1")
    files = split_files(tmp_path / "timed")
    assert 3 <= len(files) <= 6
    assert_union_is_the_stream(files, 350)


def test_info_reads_a_split_recording_as_one_log(domain: str, tmp_path: Path) -> None:
    output = tmp_path / "whole"
    record_stream(domain, output, 800, 0, 5000, "-b", "1M", "--compression", "none")
    info = subprocess.run(simrec_command("info", str(output)), capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    assert "800" in info.stdout.split("Topic: /stream", 1)[1].splitlines()[0]


def test_existing_split_recording_is_not_overwritten(domain: str, tmp_path: Path) -> None:
    output = tmp_path / "again"
    output.mkdir()
    (output / "again_0.mcap").write_bytes(b"old")
    run = subprocess.run(
        simrec_command("record", "-a", "-o", str(output), "-b", "1M"), capture_output=True, text=True
    )
    assert run.returncode == 2 and "already holds a recording" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-b", "1000"], "below the minimum of 1M"),
        (["-b", "lots"], "expected a byte count"),
        (["--max-bag-duration", "0.2"], "below the minimum of 1 second"),
        (["--snapshot-mode", "-b", "2M"], "does not take"),
        (["--snapshot-duration", "3"], "needs --snapshot-mode"),
        (["--on-disk-full", "pause"], "needs -b/--max-bag-size"),
        (["--flush-interval", "-1"], "--flush-interval"),
    ],
)
def test_bad_limits_are_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    run = subprocess.run(
        simrec_command("record", "-a", "-o", str(tmp_path / "x"), *args), capture_output=True, text=True
    )
    assert run.returncode == 2, run.stderr
    last = run.stderr.strip().splitlines()[-1]  # argparse prints its usage before the error line
    assert needle in last and "error:" in last and "Traceback" not in run.stderr
    assert not (tmp_path / "x").exists()


def publish_steps(node: Node, topic: str, steps: range, period_s: float = 0.0) -> None:
    publisher = node.create_publisher(Scalars, topic)
    assert publisher.wait_for_subscribers(20.0)
    for step in steps:
        publisher.publish(Scalars(step=step))
        if period_s:
            time.sleep(period_s)


def wait_until(predicate, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_snapshot_writes_the_ring_and_starts_it_again(domain: str, tmp_path: Path) -> None:
    options = RecordOptions(
        output=tmp_path / "snaps",
        selection=TopicSelection(("/events",)),
        snapshot_mode=True,
        snapshot_max_bytes=60 * len(Scalars(step=100).SerializeToString()),
        stats_period_s=0,
    )
    with RecorderNode(options) as recorder, Node("snapshot_source") as node:
        with pytest.raises(RecordError, match="buffer is empty"):
            recorder.snapshot()
        with pytest.raises(RecordError, match="splitting needs"):
            recorder.split()
        publish_steps(node, "/events", range(100, 300))
        wait_until(lambda: recorder.stats.received == 200)
        first = recorder.snapshot()
        publish_steps(node, "/events", range(300, 310))
        wait_until(lambda: recorder.stats.received == 210)
        second = recorder.snapshot()
    assert first == tmp_path / "snaps" / "snaps_0.mcap" and second == tmp_path / "snaps" / "snaps_1.mcap"
    first_steps = steps_in(first)
    assert 40 <= len(first_steps) <= 60 and first_steps == list(range(300 - len(first_steps), 300))
    assert steps_in(second) == list(range(300, 310))  # only what came after the first snapshot


def steps_in(path: Path) -> list[int]:
    with path.open("rb") as f:
        reader = make_reader(f, validate_crcs=True)
        return [Scalars.FromString(m.data).step for _, _, m in reader.iter_messages(log_time_order=False)]


def test_split_request_on_a_single_file_recording_is_refused(domain: str, tmp_path: Path) -> None:
    options = RecordOptions(output=tmp_path / "one.mcap", selection=TopicSelection(("/x",)), stats_period_s=0)
    with RecorderNode(options) as recorder:
        with pytest.raises(RecordError, match="writes one file"):
            recorder.split()
        with pytest.raises(RecordError, match="not in snapshot mode"):
            recorder.snapshot()
    assert (tmp_path / "one.mcap").exists()


def test_flush_interval_puts_messages_on_disk_while_recording(domain: str, tmp_path: Path) -> None:
    """Without a flush they would sit in the open 4 MiB chunk; with it a reader sees them."""
    output = tmp_path / "live.mcap"
    options = RecordOptions(
        output=output, selection=TopicSelection(("/slow",)), flush_interval_s=0.2, stats_period_s=0
    )
    with RecorderNode(options) as recorder, Node("flush_source") as node:
        publish_steps(node, "/slow", range(20))
        wait_until(lambda: recorder.stats.written == 20)
        time.sleep(0.6)
        copy = tmp_path / "copy.mcap"
        copy.write_bytes(output.read_bytes())  # what a SIGKILL now would leave
        run = subprocess.run(simrec_command("info", str(copy)), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "not closed cleanly" in run.stdout + run.stderr
    assert "Count: 20 " in run.stdout


def test_pause_skips_and_counts(domain: str, tmp_path: Path) -> None:
    output = tmp_path / "paused.mcap"
    options = RecordOptions(
        output=output, selection=TopicSelection(("/p",)), start_paused=True, stats_period_s=0
    )
    with RecorderNode(options) as recorder, Node("pause_source") as node:
        assert recorder.status()["state"] == "paused"
        publisher = node.create_publisher(Scalars, "/p")
        assert publisher.wait_for_subscribers(20.0)
        for step in range(10):
            publisher.publish(Scalars(step=step))
        wait_until(lambda: recorder.stats.received == 10)
        recorder.resume()
        for step in range(10, 15):
            publisher.publish(Scalars(step=step))
        wait_until(lambda: recorder.stats.written == 5)
    messages, metadata = file_messages(output)
    assert [s for s, _ in messages] == list(range(10, 15))
    stats = json.loads(metadata["simrec.topic_stats"]["/p"])
    assert stats["paused_skipped"] == 10 and stats["gap_dropped"] == 0 and stats["received"] == 15


def test_recorder_process_reports_the_files(domain: str, tmp_path: Path) -> None:
    recorder = start_process(
        simrec_command(
            "record", "-o", str(tmp_path / "rep"), "--max-bag-duration", "1", "/r", "--stats-period", "0"
        ),
        domain,
    )
    wait_for_line(recorder.stderr, "recording /r to")
    time.sleep(2.5)
    recorder.send_signal(signal.SIGINT)
    _, err = recorder.communicate(timeout=30)
    assert recorder.returncode == 1, err  # nothing published /r: the files are reported all the same
    assert f"wrote {tmp_path / 'rep'}/ (" in err and "nothing recorded" in err
