"""Controlling a real `simrec record` process: `simrec recorder ...`, graph queries and keys."""

from __future__ import annotations

import itertools
import json
import os
import pty
import signal
import subprocess
import time
from pathlib import Path

from mcap.reader import make_reader

from simrec_node.graph import Node
from simrec_node.msgs import RecorderStats
from simrec_node.record.control import send_command
from simrec_node.record.stats_topic import STATS_TOPIC

from .conftest import publisher_command, simrec_command, start_process, wait_for_line
from .test_record import read_log, start_recorder, stop_recorder


def recorder_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(simrec_command("recorder", *args), capture_output=True, text=True, timeout=60)


def wait_for_status(node: Node, ready, what: str, timeout_s: float = 20.0) -> dict:
    """Poll the recorder's status until ``ready(status)``."""
    deadline = time.monotonic() + timeout_s
    status: dict = {}
    while time.monotonic() < deadline:
        replies = send_command(node, "status", timeout_s=5.0)
        if replies and ready(status := replies[0]):
            return status
        time.sleep(0.05)
    raise AssertionError(f"recorder never got to {what}; last status: {status}")


def sequences(path: Path, topic: str) -> list[int]:
    with path.open("rb") as f:
        return [
            m.sequence for _, c, m in make_reader(f).iter_messages(log_time_order=False) if c.topic == topic
        ]


def test_pause_leaves_a_gap_of_what_was_skipped_and_resume_continues(domain: str, tmp_path: Path) -> None:
    output = tmp_path / "paused.mcap"
    recorder = start_recorder(domain, output, "/stream", "--stats-period", "0.2")
    publisher = start_process(
        publisher_command("--topic", "/stream", "--count", "1200", "--rate", "200", "--linger", "0.5"), domain
    )
    states = []
    with Node("probe", domain=domain) as node:
        node.create_subscription(RecorderStats, STATS_TOPIC, lambda m: states.append(m.state))
        wait_for_status(node, lambda s: s["written"] >= 100, "100 written")
        paused = recorder_cli("pause")
        assert paused.returncode == 0, paused.stderr
        assert paused.stdout.startswith("/simrec_recorder: paused, file "), paused.stdout
        at_pause = send_command(node, "status")[0]
        assert at_pause["state"] == "paused"
        wait_for_status(node, lambda s: s["received"] >= at_pause["received"] + 100, "100 more received")
        assert send_command(node, "status")[0]["written"] == at_pause["written"]  # nothing written meanwhile
        resumed = send_command(node, "resume")[0]
        assert resumed["state"] == "recording"
        _out, err = publisher.communicate(timeout=60)
        assert publisher.returncode == 0, err
        wait_for_status(node, lambda s: s["received"] == 1200, "all 1200 received")
    stop_recorder(recorder)

    _by_topic, metadata, _ = read_log(output)
    stats = json.loads(metadata["simrec.topic_stats"]["/stream"])
    seen = sequences(output, "/stream")
    holes = [(a, b) for a, b in itertools.pairwise(seen) if b != a + 1]
    assert len(holes) == 1, holes  # one hole: the pause
    before, after = holes[0]
    assert seen[0] == 0 and seen[-1] == 1199  # recorded up to the pause, and again to the end
    assert after - before - 1 == stats["paused_skipped"] >= 100
    assert stats["received"] == 1200 and stats["written"] == len(seen) == 1200 - stats["paused_skipped"]
    assert stats["gap_dropped"] == stats["queue_dropped"] == 0
    assert "paused" in states and states[-1] == "recording"  # /simrec/stats told the pause too


def test_split_status_and_keys_on_a_splitting_recording(domain: str, tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    process = start_process(
        simrec_command("record", "/data", "-o", str(tmp_path / "run"), "-b", "1000000000"),
        domain,
        stdin=terminal,
    )
    os.close(terminal)
    try:
        wait_for_line(process.stderr, "recording")
        publish_50(domain)
        status = _wait_cli_status("50 received, 50 written")
        assert status.startswith("/simrec_recorder: recording, file ") and "run_0.mcap" in status

        split = recorder_cli("split")
        assert split.returncode == 0, split.stderr
        assert f"finished {tmp_path / 'run' / 'run_0.mcap'}" in split.stdout
        assert "run_1.mcap" in split.stdout.split(";", 1)[1]
        publish_50(domain)
        _wait_cli_status("100 written")

        os.write(controller, b"s")  # the key splits too
        wait_for_line(process.stderr, "split: finished")
        os.write(controller, b" ")
        wait_for_line(process.stderr, "paused")
        as_json = recorder_cli("status", "--json", "--node", "simrec_recorder")
        assert as_json.returncode == 0, as_json.stderr
        reply = json.loads(as_json.stdout)
        assert reply["state"] == "paused" and reply["node"] == "/simrec_recorder"

        snapshot = recorder_cli("snapshot")  # not in snapshot mode: one line, non-zero
        assert snapshot.returncode != 0 and snapshot.stdout == ""
        assert snapshot.stderr.startswith("simrec: error: /simrec_recorder: ")
        assert len(snapshot.stderr.strip().splitlines()) == 1, snapshot.stderr
    finally:
        process.send_signal(2)
        _out, err = process.communicate(timeout=30)
        os.close(controller)
    assert process.returncode == 0, err
    files = sorted((tmp_path / "run").glob("run_*.mcap"))
    assert [f.name for f in files][:3] == ["run_0.mcap", "run_1.mcap", "run_2.mcap"][: len(files)]
    assert [len(sequences(f, "/data")) for f in files[:2]] == [50, 50]  # the third: after the key's split
    assert sum(len(sequences(f, "/data")) for f in files) == 100


def publish_50(domain: str) -> None:
    publisher = start_process(
        publisher_command("--topic", "/data", "--count", "50", "--linger", "0.3"), domain
    )
    _out, err = publisher.communicate(timeout=60)
    assert publisher.returncode == 0, err


def _wait_cli_status(needle: str, timeout_s: float = 20.0) -> str:
    deadline = time.monotonic() + timeout_s
    result = None
    while time.monotonic() < deadline:
        result = recorder_cli("status")
        if result.returncode == 0 and needle in result.stdout:
            return result.stdout
        time.sleep(0.2)
    raise AssertionError(f"status never said {needle!r}: {result}")


def test_requests_that_cannot_be_served_are_one_line(domain: str, tmp_path: Path) -> None:
    nobody = recorder_cli("pause", "--timeout", "1")
    assert nobody.returncode == 1
    assert nobody.stderr == f"simrec: error: no recorder is running on domain {domain}\n"

    unknown = recorder_cli("rewind")
    assert unknown.returncode == 2 and len(unknown.stderr.splitlines()) == 1
    assert "unknown recorder command 'rewind'" in unknown.stderr and "Traceback" not in unknown.stderr

    recorder = start_recorder(domain, tmp_path / "one.mcap", "/x")
    try:
        with Node("probe", domain=domain) as node:
            # The recorder itself refuses what it does not know, and says who it is.
            assert send_command(node, "rewind") == [
                {
                    "node": "/simrec_recorder",
                    "error": "unknown recorder command 'rewind'; "
                    "try status, pause, resume, toggle, split, snapshot",
                }
            ]
        split = recorder_cli("split")  # a single file cannot be split
        assert split.returncode == 2 and len(split.stderr.splitlines()) == 1, split.stderr
        assert split.stderr.startswith("simrec: error: /simrec_recorder: ")
        other = recorder_cli("pause", "--node", "other_recorder", "--timeout", "1")
        assert other.returncode == 1
        assert (
            other.stderr == f"simrec: error: no recorder named other_recorder is running on domain {domain}\n"
        )
        status = recorder_cli("status", "--node", "/simrec_recorder")
        assert status.returncode == 0 and ": recording, file " in status.stdout  # not paused by the above
    finally:
        recorder.send_signal(signal.SIGINT)
        _, err = recorder.communicate(timeout=30)
    assert recorder.returncode == 1 and "nothing recorded" in err, err  # nobody published /x
