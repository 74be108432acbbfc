"""``/simrec/stats`` from a real `simrec record` process, read by a subscriber and from the file."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from simrec_node.graph import Node
from simrec_node.msgs import RecorderStats
from simrec_node.record.stats_topic import STATS_TOPIC

from .conftest import publisher_command, start_process
from .test_record import read_log, start_recorder, stop_recorder

COUNTERS = ("received", "written", "bytes_written", "gap_dropped", "queue_dropped", "paused_skipped")


def test_stats_topic_counts_match_the_file_and_record_a_keeps_it(domain: str, tmp_path: Path) -> None:
    output = tmp_path / "stats.mcap"
    received: list[RecorderStats] = []
    done = threading.Event()

    def on_stats(message: RecorderStats) -> None:
        received.append(message)
        data = next((t for t in message.topics if t.topic == "/test/data"), None)
        if data is not None and data.written == 300:
            done.set()

    with Node("stats_probe", domain=domain) as node:
        node.create_subscription(RecorderStats, STATS_TOPIC, on_stats)
        recorder = start_recorder(domain, output, "-a", "--stats-period", "0.2")
        publisher = start_process(publisher_command("--topic", "/test/data", "--count", "300"), domain)
        _out, err = publisher.communicate(timeout=60)
        assert publisher.returncode == 0, err
        assert done.wait(20), received[-1:] or "no /simrec/stats message"
        live = received[-1]
        stop_recorder(recorder)
        time.sleep(0.3)  # the final message, published as the recorder closes

    assert live.node == "/simrec_recorder" and live.state == "recording"
    assert live.output == str(output) and live.max_queue_bytes == 64 * 1024 * 1024
    live_data = next(t for t in live.topics if t.topic == "/test/data")
    assert (live_data.received, live_data.written, live_data.gap_dropped, live_data.queue_dropped) == (
        300,
        300,
        0,
        0,
    )
    assert live.written == sum(t.written for t in live.topics)  # totals are the sum of the topics

    by_topic, metadata, _ = read_log(output)
    assert len(by_topic["/test/data"]) == 300
    file_stats = {topic: json.loads(value) for topic, value in metadata["simrec.topic_stats"].items()}
    final = {t.topic: {name: getattr(t, name) for name in COUNTERS} for t in received[-1].topics}
    for topic, counts in final.items():
        assert counts == {name: file_stats[topic][name] for name in COUNTERS}, topic
    assert final["/test/data"]["bytes_written"] == sum(len(m.data) for m, _ in by_topic["/test/data"])

    # -a records the recorder's own stats: its health over time is in the file.
    recorded = [decoded for _, decoded in by_topic[STATS_TOPIC]]
    assert len(recorded) >= 2 and all(r.node == "/simrec_recorder" for r in recorded)
    written_over_time = [next((t.written for t in r.topics if t.topic == "/test/data"), 0) for r in recorded]
    assert written_over_time == sorted(written_over_time) and written_over_time[-1] == 300


def test_stats_period_zero_publishes_nothing(domain: str, tmp_path: Path) -> None:
    output = tmp_path / "quiet.mcap"
    recorder = start_recorder(domain, output, "-a", "--stats-period", "0")
    publisher = start_process(publisher_command("--topic", "/test/data", "--count", "20"), domain)
    publisher.communicate(timeout=60)
    time.sleep(0.5)
    stop_recorder(recorder)
    by_topic, _, _ = read_log(output)
    assert set(by_topic) == {"/test/data"}
