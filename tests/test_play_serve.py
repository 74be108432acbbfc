"""`simrec play --serve`: playback control over the wire with the real @foxglove/ws-protocol client
(tests/interop/play_control.mjs), while the same player publishes onto the graph."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from .conftest import simrec_command, start_process, wait_for_line
from .mcap_interop import INTEROP_DIR, ensure_node_peers
from .test_play import COUNT, SPACING_NS, T0, payload, write_log

SEEK_NS = T0 + 502_500_000  # between messages 100 (/a/scalars, 500 ms) and 101 (/b/blob, 505 ms)


def play_control_session(log: Path, seek_ns: int, *play_args: str, wait_until_playing: bool = False) -> dict:
    """Run ``simrec play LOG --serve`` and drive it with the real Foxglove client
    (tests/interop/play_control.mjs): what the client saw, as JSON."""
    proc = start_process(
        simrec_command(
            "play", str(log), "--serve", "--port", "0", "--disable-keyboard-controls", "-q", *play_args
        ),
        "t" + uuid.uuid4().hex[:12],
    )
    try:
        url = re.search(r"ws://[\d.]+:\d+", wait_for_line(proc.stderr, "ws://")).group(0)
        if wait_until_playing:  # the player starts once its graph node is up, after the server
            wait_for_line(proc.stderr, "playing ")
        out = subprocess.run(
            ["node", str(INTEROP_DIR / "play_control.mjs"), url, str(seek_ns)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr + out.stdout[-2000:]
        return json.loads(out.stdout)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> dict:
    ensure_node_peers()
    log = write_log(tmp_path_factory.mktemp("serve") / "run.mcap")
    return play_control_session(log, SEEK_NS, "--wait-for-subscribers", "0", "--start-paused")


def states(events: list[dict]) -> dict[str, dict]:
    return {e["requestId"]: e for e in events if e["kind"] == "state" and e["requestId"]}


def test_handshake_channels_and_time_range(session: dict) -> None:
    assert session["protocol"] == "foxglove.sdk.v1"
    info = session["serverInfo"]
    assert {"playbackControl", "time"} <= set(info["capabilities"])
    start = info["dataStartTime"]["sec"] * 10**9 + info["dataStartTime"]["nsec"]
    end = info["dataEndTime"]["sec"] * 10**9 + info["dataEndTime"]["nsec"]
    assert (start, end) == (T0, T0 + (COUNT - 1) * SPACING_NS)
    channels = {c["topic"]: c for c in session["channels"]}
    assert set(channels) == {"/a/scalars", "/b/blob"}
    blob = channels["/b/blob"]
    assert (blob["encoding"], blob["schemaName"], blob["schemaEncoding"]) == (
        "protobuf",
        "custom.Blob",
        "protobuf",
    )
    fds = descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(blob["schema"]))
    assert fds.file[0].message_type[0].name == "Blob"


def test_playback_state_replies(session: dict) -> None:
    replies = states(session["events"])
    assert replies["req-0"]["status"] == "playing" and not replies["req-0"]["didSeek"]
    assert replies["req-1"]["status"] == "paused"
    assert replies["req-2"]["didSeek"] and replies["req-2"]["currentTime"] == str(SEEK_NS)
    assert replies["req-3"]["status"] == "playing" and replies["req-3"]["speed"] == 2
    assert replies["req-4"]["didSeek"] and int(replies["req-4"]["currentTime"]) == T0
    assert any(e["kind"] == "state" and e["status"] == "ended" for e in session["events"])


def test_time_broadcasts_while_playing(session: dict) -> None:
    times = [int(e["t"]) for e in session["events"] if e["kind"] == "time"]
    assert len(times) >= 5
    first_play = times[: times.index(SEEK_NS)]
    assert first_play == sorted(first_play) and T0 <= first_play[0] < first_play[-1] < SEEK_NS


def test_messages_match_the_log_and_seek_resends_latest(session: dict) -> None:
    events = session["events"]
    messages = [e for e in events if e["kind"] == "message"]
    by_time = {T0 + i * SPACING_NS: payload(i).hex() for i in range(COUNT)}
    assert messages and all(by_time[int(m["logTime"])] == m["data"] for m in messages)
    seek_state = next(
        i for i, e in enumerate(events) if e.get("requestId") == "req-2" and e["kind"] == "state"
    )
    play_request = next(i for i, e in enumerate(events) if e.get("requestId") == "req-3")
    after_seek = [e for e in events[seek_state:play_request] if e["kind"] == "message"]
    # The latest message of each topic at or before the seek time, and nothing else, while paused.
    assert sorted((m["topic"], int(m["logTime"])) for m in after_seek) == [
        ("/a/scalars", T0 + 500_000_000),
        ("/b/blob", T0 + 495_000_000),
    ]
    # Playing on from the seek: the messages after it, in time order, to the end of the log.
    # (Data and control messages travel in separate queues, so the "ended" state may overtake
    # the last messages; the later seek back to T0 re-sends only messages at or before T0.)
    played = [
        int(e["logTime"])
        for e in events[play_request:]
        if e["kind"] == "message" and int(e["logTime"]) > SEEK_NS
    ]
    assert played == sorted(played)
    assert played[0] == T0 + 505_000_000 and played[-1] == T0 + (COUNT - 1) * SPACING_NS


def test_a_viewer_with_playback_control_takes_over_a_player_that_plays_on_its_own(tmp_path: Path) -> None:
    """Without --start-paused the player plays at once; the timeline still pauses, seeks, sets the speed."""
    ensure_node_peers()
    log = write_log(tmp_path / "long.mcap", count=1200)  # 6 s: still playing when the client connects
    session = play_control_session(log, SEEK_NS, "--wait-for-subscribers", "0", wait_until_playing=True)
    events = session["events"]
    first_reply = next(i for i, e in enumerate(events) if e["kind"] == "state" and e.get("requestId"))
    times = [int(e["t"]) for e in events[:first_reply] if e["kind"] == "time"]
    assert times and max(times) > T0  # it was playing before any request
    replies = states(session["events"])
    assert replies["req-1"]["status"] == "paused"
    assert replies["req-2"]["didSeek"] and replies["req-2"]["currentTime"] == str(SEEK_NS)
    assert replies["req-3"]["status"] == "playing" and replies["req-3"]["speed"] == 2
    assert any(e["kind"] == "state" and e["status"] == "ended" for e in session["events"])
