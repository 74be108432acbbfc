"""``simrec record`` as a real process, fed by real publisher processes over Zenoh."""

from __future__ import annotations

import json
import signal
import struct
import subprocess
import time
from pathlib import Path

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor_pb2 import FileDescriptorSet
from mcap.reader import make_reader

from simrec_node.graph import Node
from simrec_node.graph.names import topic_to_key
from simrec_node.graph.wire import encoding_for
from simrec_node.msgs import Scalars

from .conftest import publisher_command, simrec_command, start_process, wait_for_line
from .mcap_interop import node_validate


def read_log(path: Path) -> tuple[dict[str, list], dict[str, dict[str, str]], object]:
    """Messages per topic decoded with the schemas stored in the file, metadata, summary."""
    by_topic: dict[str, list] = {}
    classes = {}
    with path.open("rb") as f:
        reader = make_reader(f, validate_crcs=True)
        for schema, channel, message in reader.iter_messages(log_time_order=False):
            if schema.name not in classes:
                pool = descriptor_pool.DescriptorPool()
                for file in FileDescriptorSet.FromString(schema.data).file:
                    pool.Add(file)
                classes[schema.name] = message_factory.GetMessageClass(
                    pool.FindMessageTypeByName(schema.name)
                )
            decoded = classes[schema.name].FromString(message.data)
            by_topic.setdefault(channel.topic, []).append((message, decoded))
        metadata = {m.name: dict(m.metadata) for m in reader.iter_metadata()}
        summary = reader.get_summary()
    return by_topic, metadata, summary


def start_recorder(domain: str, output: Path, *args: str) -> subprocess.Popen:
    process = start_process(simrec_command("record", "-o", str(output), *args), domain)
    wait_for_line(process.stderr, "recording")
    return process


def stop_recorder(process: subprocess.Popen, sig: int = signal.SIGINT) -> str:
    process.send_signal(sig)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    return err


def run_publisher(domain: str, *args: str) -> None:
    process = start_process(publisher_command(*args), domain)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err


def test_records_named_topics_with_schemas_stamps_and_metadata(domain: str, tmp_path: Path) -> None:
    output = tmp_path / "run.mcap"
    recorder = start_recorder(domain, output, "/test/data", "--meta", "robot=r2", "--meta", "seed=7")
    run_publisher(domain, "--topic", "/test/data", "--count", "300")
    run_publisher(domain, "--topic", "/test/ignored", "--count", "5", "--no-wait", "--linger", "0.5")
    err = stop_recorder(recorder)

    by_topic, metadata, summary = read_log(output)
    assert set(by_topic) == {"/test/data"}
    messages = by_topic["/test/data"]
    assert [decoded.step for _, decoded in messages] == list(range(300))
    assert [m.sequence for m, _ in messages] == list(range(300))
    assert all(m.log_time >= m.publish_time for m, _ in messages)  # received after it was stamped
    assert summary.statistics.message_count == 300
    assert metadata["simrec.meta"] == {"robot": "r2", "seed": "7"}
    assert metadata["simrec.recording"]["domain"] == domain
    assert "record -o" in metadata["simrec.recording"]["command_line"]
    stats = json.loads(metadata["simrec.topic_stats"]["/test/data"])
    assert stats["written"] == 300 and stats["gap_dropped"] == 0 and stats["queue_dropped"] == 0
    assert "300 messages on 1 topic," in err
    independent = node_validate(output)  # @mcap/core reads it fully, checking every CRC
    assert independent["messageCount"] == 300 and independent["topics"] == {"/test/data": 300}


def test_type_without_code_is_recorded_and_decodable(domain: str, tmp_path: Path) -> None:
    output = tmp_path / "custom.mcap"
    recorder = start_recorder(domain, output, "-a", "--stats-period", "0")  # only what is published
    run_publisher(domain, "--topic", "/custom", "--type", "custom", "--count", "10")
    stop_recorder(recorder)
    by_topic, _, summary = read_log(output)
    assert [list(decoded.values) for _, decoded in by_topic["/custom"]] == [[float(i)] for i in range(10)]
    assert [s.name for s in summary.schemas.values()] == ["test.Custom"]


def test_regex_exclude_and_late_topics(domain: str, tmp_path: Path) -> None:
    output = tmp_path / "regex.mcap"
    recorder = start_recorder(domain, output, "-e", "^/sim/", "-x", "debug")
    # These topics appear only after the recorder started.
    run_publisher(domain, "--topic", "/sim/state", "--count", "20")
    run_publisher(domain, "--topic", "/sim/debug", "--count", "20")
    run_publisher(domain, "--topic", "/other", "--count", "20", "--type", "clock")
    run_publisher(domain, "--topic", "/sim/late/reward", "--count", "7")
    stop_recorder(recorder, signal.SIGTERM)
    by_topic, _, _ = read_log(output)
    assert {topic: len(msgs) for topic, msgs in by_topic.items()} == {"/sim/state": 20, "/sim/late/reward": 7}


def test_sigint_mid_stream_leaves_a_complete_valid_file(domain: str, tmp_path: Path) -> None:
    output = tmp_path / "cut.mcap"
    recorder = start_recorder(domain, output, "-a", "--stats-period", "0")  # only what is published
    publisher = start_process(
        publisher_command("--topic", "/stream", "--count", "100000", "--rate", "2000"), domain
    )
    wait_for_line(publisher.stdout, "ready")
    time.sleep(1.0)
    err = stop_recorder(recorder)
    publisher.kill()
    publisher.wait()
    by_topic, metadata, summary = read_log(output)
    steps = [decoded.step for _, decoded in by_topic["/stream"]]
    written = json.loads(metadata["simrec.topic_stats"]["/stream"])["written"]
    assert len(steps) == written == summary.statistics.message_count > 100
    assert steps == list(range(steps[0], steps[0] + len(steps)))  # in order, no holes
    assert f"{written:,} messages" in err


def test_sequence_gaps_are_counted_and_reported(domain: str, tmp_path: Path) -> None:
    """A publisher whose numbering skips (as after transport loss) shows up as drops."""
    output = tmp_path / "gaps.mcap"
    recorder = start_recorder(domain, output, "/lossy")
    with Node("probe") as node:  # shares the process's Zenoh session
        publisher = node.session.declare_publisher(
            topic_to_key(domain, "/lossy"), encoding=encoding_for("simrec.Scalars")
        )
        node.create_publisher(Scalars, "/lossy_schema")  # serve the schema of simrec.Scalars
        deadline = time.monotonic() + 10
        while not publisher.matching_status.matching and time.monotonic() < deadline:
            time.sleep(0.01)
        for sequence in [0, 1, 2, 5, 6, 10]:
            publisher.put(
                Scalars(step=sequence).SerializeToString(), attachment=struct.pack("<QQq", 42, sequence, 1)
            )
        time.sleep(0.5)
        err = stop_recorder(recorder)
    _, metadata, _summary = read_log(output)
    stats = json.loads(metadata["simrec.topic_stats"]["/lossy"])
    assert stats == {
        "received": 6,
        "written": 6,
        "bytes_written": stats["bytes_written"],
        "gap_dropped": 5,
        "queue_dropped": 0,
        "disk_dropped": 0,
        "paused_skipped": 0,
    }
    assert "5 dropped" in err and "5 lost in transport" in err
    info = subprocess.run(simrec_command("info", str(output)), capture_output=True, text=True, check=True)
    assert "/lossy" in info.stdout and "5" in info.stdout.split("/lossy", 1)[1].splitlines()[0]


def test_duration_and_max_messages_stop_the_recording(domain: str, tmp_path: Path) -> None:
    output = tmp_path / "max.mcap"
    recorder = start_recorder(domain, output, "-a", "--max-messages", "25")
    run_publisher(domain, "--topic", "/many", "--count", "100")
    recorder.wait(timeout=20)
    assert recorder.returncode == 0
    _, _, summary = read_log(output)
    assert summary.statistics.message_count == 25

    started = time.monotonic()
    timed = start_process(
        simrec_command("record", "-a", "-o", str(tmp_path / "t.mcap"), "--duration", "1"), domain
    )
    _, err = timed.communicate(timeout=20)
    # --duration stopped it; nothing published in that second, which is an error of its own
    assert time.monotonic() - started < 15
    assert timed.returncode == 1 and "nothing was found to record" in err, err


def test_bad_output_and_options_give_one_line_errors(domain: str, tmp_path: Path) -> None:
    existing = tmp_path / "exists.mcap"
    existing.write_bytes(b"keep me")
    cases = [
        (["record", "/a", "-o", str(existing)], "already exists"),
        (["record", "/a", "-o", str(tmp_path / "missing_dir" / "x.mcap")], "does not exist"),
        (["record", "/a", "-o", str(tmp_path)], "is a directory"),
        (["record", "/a", "-o", "/proc/simrec-test.mcap"], "cannot write"),  # passes the early checks
        (["record", "-e", "([", "-o", str(tmp_path / "r.mcap")], "not a valid regular expression"),
        (["record", "-o", str(tmp_path / "n.mcap")], "nothing to record"),
        (["record", "bad topic", "-o", str(tmp_path / "b.mcap")], "invalid topic name"),
        (["record", "/a", "--meta", "novalue", "-o", str(tmp_path / "m.mcap")], "KEY=VALUE"),
    ]
    for args, needle in cases:
        result = subprocess.run(simrec_command(*args), capture_output=True, text=True, timeout=30)
        assert result.returncode == 2, (args, result.stderr)
        assert needle in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert existing.read_bytes() == b"keep me"
