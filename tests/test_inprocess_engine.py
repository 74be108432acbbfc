"""The in-process Recorder on the one recording engine: crash safety, a full disk, drops that
match the file's sequence gaps, splitting, snapshots, control over the graph, input checked at
``log``, and files finished when the owner forgets ``close()``. Real processes, a real tmpfs,
real MCAP files read back with the ``mcap`` reader."""

from __future__ import annotations

import gc
import itertools
import json
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from mcap.reader import make_reader

from simrec_node import Recorder
from simrec_node.graph import InvalidNameError, Node
from simrec_node.integrations import (
    InvalidTimeError,
    RecorderClosedError,
    RecorderNotClosedWarning,
    UnsupportedValueError,
)
from simrec_node.record.control import send_command

from .conftest import HELPERS, simrec_command, start_process, wait_for_line
from .integrations_helpers import read_messages, read_metadata
from .repair_logs import run_simrec

SIM = [sys.executable, str(HELPERS / "inprocess_sim.py")]


def topic_stats(path: Path) -> dict[str, dict[str, int]]:
    stats = dict(read_metadata(path))["simrec.topic_stats"]
    return {topic: json.loads(counts) for topic, counts in stats.items()}


def indexed(path: Path) -> dict[str, list[int]]:
    """topic -> sequences, read through the summary and index (fails on a file not closed)."""
    with path.open("rb") as f:
        reader = make_reader(f, validate_crcs=True)
        summary = reader.get_summary()
        assert summary is not None, f"{path} has no summary: it was not closed"
        out: dict[str, list[int]] = {}
        for _, channel, message in reader.iter_messages(log_time_order=False):
            out.setdefault(channel.topic, []).append(message.sequence)
        assert summary.statistics.message_count == sum(len(v) for v in out.values())
    return out


# ---------------------------------------------------------------- crash safety


@pytest.mark.parametrize("kill", range(3))
def test_sigkill_loses_at_most_the_flush_interval_after_recover(tmp_path: Path, kill: int) -> None:
    output = tmp_path / "killed.mcap"
    sim = subprocess.Popen([*SIM, str(output)], stdout=subprocess.PIPE, text=True)
    assert sim.stdout.readline().strip() == "ready"
    time.sleep(random.Random(kill).uniform(1.5, 3.0))
    killed_at = time.time_ns()
    sim.send_signal(signal.SIGKILL)
    sim.wait()
    fixed = tmp_path / "fixed.mcap"
    done = run_simrec("recover", str(output), "-o", str(fixed))
    assert done.returncode == 0, done.stderr
    with fixed.open("rb") as f:
        rows = [(c.topic, m.sequence, m.log_time) for _, c, m in make_reader(f).iter_messages()]
    states = [seq for topic, seq, _ in rows if topic == "/sim/state"]
    assert states == list(range(len(states))) and len(states) >= 50  # no hole: a prefix of the run
    assert any(topic == "/camera/rgb" for topic, _, _ in rows)
    lost_s = (killed_at - max(t for _, _, t in rows)) / 1e9
    assert lost_s <= 2.0, f"lost the last {lost_s:.2f} s (flush interval 1 s)"


def test_exit_without_close_finishes_the_file_and_says_so(tmp_path: Path) -> None:
    output = tmp_path / "forgot.mcap"
    done = subprocess.run(
        [*SIM, str(output), "--seconds", "0.5", "--no-close"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "was not closed; the interpreter is exiting" in done.stderr
    steps = int(done.stdout.split("steps ")[1])
    assert len(indexed(output)["/sim/state"]) == steps == topic_stats(output)["/sim/state"]["written"]


def test_a_garbage_collected_open_recorder_is_finished_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "dropped.mcap"
    rec = Recorder(path)
    rec.log("x", np.arange(4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del rec
        gc.collect()
    assert any(issubclass(w.category, RecorderNotClosedWarning) for w in caught), caught
    assert indexed(path) == {"/x": [0]}


# ---------------------------------------------------------------- a full disk


def test_full_disk_leaves_an_indexed_file_whose_stats_match_it(small_disk: Path) -> None:
    path = small_disk / "full.mcap"
    block = np.random.default_rng(0).integers(0, 255, 20_000, dtype=np.uint8)  # incompressible
    rec = Recorder(path, compression="none", chunk_size=200_000)
    with pytest.raises(RecorderClosedError, match="the disk is full") as failed:
        for _ in range(1000):  # 20 MB into 3 MiB
            rec.log("fill", block)
            rec.log("tick", 1.0)
    assert "closed" in str(failed.value) and "cleanly" in str(failed.value)
    with pytest.raises(RecorderClosedError, match="the disk is full"):
        rec.close()
    rec.close()  # once is enough
    sequences = indexed(path)
    stats = topic_stats(path)
    assert stats["/fill"]["written"] == len(sequences["/fill"]) > 20
    assert sequences["/fill"] == list(range(len(sequences["/fill"])))
    assert stats["/fill"]["disk_dropped"] >= 1 and stats["/fill"]["queue_dropped"] == 0
    counted = rec.stats.topics["/fill"]
    assert counted.queue_dropped == 0 and counted.written == len(sequences["/fill"])
    assert counted.received == counted.written + counted.disk_dropped  # every message accounted for


# ---------------------------------------------------------------- drops


def test_drop_flood_counts_equal_the_sequence_gaps_exactly(tmp_path: Path) -> None:
    path = tmp_path / "flood.mcap"
    payload = np.ones(2000, np.uint8)
    with Recorder(path, when_full="drop", max_queue_bytes=50_000, queue_size=64) as rec:
        for i in range(30_000):
            rec.log(f"flood/t{i % 5}", payload)
    sequences = indexed(path)
    stats = topic_stats(path)
    assert sum(s["queue_dropped"] for s in stats.values()) > 0, "the flood never filled the queue"
    for topic, seen in sequences.items():
        gaps = sum(b - a - 1 for a, b in itertools.pairwise([-1, *seen, 6000]))
        assert gaps == stats[topic]["queue_dropped"], topic
        assert stats[topic]["received"] == 6000 == stats[topic]["written"] + gaps
        assert stats[topic]["disk_dropped"] == 0


def test_threads_logging_one_topic_get_distinct_numbers(tmp_path: Path) -> None:
    """A camera thread and a sim thread may log one topic: every message keeps its own number."""
    import threading

    path = tmp_path / "threads.mcap"
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads trade the interpreter often, as a loaded machine makes them
    try:
        with Recorder(path, compression="none") as rec:
            start = threading.Barrier(4)

            def work() -> None:
                start.wait()
                for _ in range(3000):
                    rec.log("shared", np.zeros(4, np.float32))

            threads = [threading.Thread(target=work) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        sys.setswitchinterval(switch)
    sequences = indexed(path)["/shared"]
    assert sorted(sequences) == list(range(12_000))
    assert topic_stats(path)["/shared"]["received"] == 12_000


# ---------------------------------------------------------------- splitting, snapshots, pause


def test_split_by_size_and_on_request(tmp_path: Path) -> None:
    block = np.random.default_rng(1).integers(0, 255, 50_000, dtype=np.uint8)
    with Recorder(tmp_path / "run", max_bag_size=1_000_000, compression="none", chunk_size=100_000) as rec:
        for i in range(60):
            rec.log("big", block, step=i)
        rec.sync()
        closed = rec.split()
        for i in range(60, 70):
            rec.log("big", block, step=i)
    files = sorted((tmp_path / "run").glob("run_*.mcap"), key=lambda p: int(p.stem.split("_")[1]))
    assert closed in files and len(files) >= 4
    seen = [seq for f in files for seq in indexed(f).get("/big", [])]
    assert seen == list(range(70))  # nothing lost or written twice at a seam
    assert all(f.stat().st_size <= 1_200_000 for f in files)


def test_snapshot_writes_the_ring_and_pause_skips(tmp_path: Path) -> None:
    with Recorder(tmp_path / "clips", snapshot=True, snapshot_max_bytes=10_000) as rec:
        for i in range(100):
            rec.log("x", np.full(25, i, np.int32))  # ~120 B each: the ring keeps the last ~80
        first = rec.snapshot()
        rec.pause()
        rec.log("x", np.zeros(25, np.int32))
        rec.resume()
        rec.log("x", np.ones(25, np.int32))
        second = rec.snapshot()
    kept = indexed(first)["/x"]
    assert kept == list(range(100 - len(kept), 100)) and 20 < len(kept) < 100
    assert indexed(second) == {"/x": [101]}  # 100 was skipped while paused
    assert topic_stats(second)["/x"]["paused_skipped"] == 1


def test_split_and_snapshot_refused_where_they_do_not_apply(tmp_path: Path) -> None:
    from simrec_node.record import RecordError

    with Recorder(tmp_path / "one.mcap") as rec:
        with pytest.raises(RecordError, match="max_bag_size"):
            rec.split()
        with pytest.raises(RecordError, match="snapshot=True"):
            rec.snapshot()


# ---------------------------------------------------------------- control over the graph


def test_simrec_recorder_reaches_an_in_process_recorder(tmp_path: Path, domain: str) -> None:
    rec = Recorder(tmp_path / "ctl", control=True, domain=domain, max_bag_size=1 << 20)
    try:
        rec.log("x", 1.0)
        status = subprocess.run(
            simrec_command("recorder", "status", "--json", "--node", "simrec_inprocess"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        reply = json.loads(status.stdout)
        assert reply["node"] == "/simrec_inprocess" and reply["state"] == "recording"
        with Node("ctl_probe", domain=domain) as node:
            assert send_command(node, "pause")[0]["state"] == "paused"
            rec.log("x", 2.0)  # skipped
            assert send_command(node, "resume")[0]["state"] == "recording"
            rec.log("x", 3.0)
            rec.sync()
            split = send_command(node, "split")[0]
        assert split["path"].endswith("ctl_0.mcap")
        rec.log("x", 4.0)
    finally:
        rec.close()
    assert indexed(tmp_path / "ctl" / "ctl_0.mcap") == {"/x": [0, 2]}  # 1 was logged while paused
    assert indexed(tmp_path / "ctl" / "ctl_1.mcap") == {"/x": [3]}


# ---------------------------------------------------------------- input checked at log


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"stamp_ns": -1}, "stamp_ns on /sim/x is out of range"),
        ({"stamp_ns": 2**64}, "stamp_ns on /sim/x is out of range"),
        ({"stamp_ns": 1.5}, "stamp_ns on /sim/x must be an integer"),
        ({"sim_time": float("nan")}, "sim_time on /sim/x"),
        ({"sim_time": -0.5}, "sim_time on /sim/x"),
        ({"sim_time": 1e300}, "sim_time on /sim/x"),
        ({"step": -1}, "step on /sim/x"),
        ({"step": 2**63}, "step on /sim/x"),
    ],
)
def test_times_out_of_range_raise_at_log_and_the_recording_goes_on(
    tmp_path: Path, kwargs: dict, needle: str
) -> None:
    path = tmp_path / "times.mcap"
    with Recorder(path) as rec:
        with pytest.raises(InvalidTimeError, match=needle):
            rec.log("sim/x", 1.0, **kwargs)
        rec.log("sim/x", 2.0, stamp_ns=5)
    got = read_messages(path)["/sim/x"]
    assert [(m.publish_time, msg.values["value"]) for m, msg in got] == [(5, 2.0)]
    assert topic_stats(path)["/sim/x"]["written"] == 1


@pytest.mark.parametrize("bad", ["sim/x\n", "/a//b", "1x", "", "a b"])
def test_bad_topic_names_raise_at_log(tmp_path: Path, bad: str) -> None:
    with Recorder(tmp_path / "names.mcap") as rec:
        with pytest.raises(InvalidNameError, match="invalid topic name"):
            rec.log(bad, 1.0)
        rec.log("~/private", 1.0)
        with pytest.raises(UnsupportedValueError, match="/ok"):
            rec.log("ok", object())
    assert list(read_messages(tmp_path / "names.mcap")) == ["/simrec_inprocess/private"]


def test_log_after_a_failed_start_and_bad_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="on_disk_full"):
        Recorder(tmp_path / "a.mcap", on_disk_full="ignore")
    with pytest.raises(InvalidNameError, match="invalid node name"):
        Recorder(tmp_path / "b.mcap", node_name="rec\n")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_the_graph_recorder_control_process_still_answers(tmp_path: Path, domain: str) -> None:
    """Both front ends answer the one control service: a `simrec record` process and this one."""
    recorder = start_process(simrec_command("record", "/nothing", "-o", str(tmp_path / "g.mcap")), domain)
    rec = Recorder(tmp_path / "i.mcap", control=True, domain=domain)
    try:
        wait_for_line(recorder.stderr, "recording")
        with Node("ctl_probe", domain=domain) as node:
            deadline = time.monotonic() + 20
            nodes: list[str] = []
            while len(nodes) < 2 and time.monotonic() < deadline:
                nodes = sorted(reply["node"] for reply in send_command(node, "status", timeout_s=5))
        assert nodes == ["/simrec_inprocess", "/simrec_recorder"]
    finally:
        rec.close()
        recorder.send_signal(signal.SIGINT)
        recorder.communicate(timeout=60)
