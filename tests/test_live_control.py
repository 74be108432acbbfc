"""Foxglove as the control surface: the recorder's and the player's controls as Foxglove services,
called as the Service Call panel does (tests/interop/service_call.mjs, the real
@foxglove/ws-protocol client), against real ``simrec`` processes."""

from __future__ import annotations

import base64
import itertools
import json
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

from simrec_node.graph import TypeInfo
from simrec_node.live.front import OLD_TOKEN
from simrec_node.live.services import PLAYER_COMMANDS, PLAYER_PREFIX, RECORDER_PREFIX
from simrec_node.msgs import Scalars
from simrec_node.record.control import COMMANDS

from .conftest import publisher_command, simrec_command, start_process, wait_for_line
from .mcap_interop import INTEROP_DIR, ensure_node_peers
from .test_live import messages_in, start_live_recorder, stop
from .test_live_protocols import run_client
from .test_play import write_log

CALL = INTEROP_DIR / "service_call.mjs"


def call(url: str, service: str, request: dict | None = None, *args: str) -> dict:
    done = subprocess.run(
        ["node", str(CALL), url, service, json.dumps(request or {}), *args],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


def test_a_service_call_pauses_the_recorder_and_the_file_and_recorder_status_agree(
    domain: str, tmp_path: Path
) -> None:
    ensure_node_peers()
    output = tmp_path / "paused.mcap"
    recorder, url = start_live_recorder(domain, output, "/test/data")
    # 8 s of messages: the pause must fall inside them however slowly the viewer starts
    publisher = start_process(
        publisher_command("--type", "scalars", "--count", "800", "--rate", "100"), domain
    )
    wait_for_line(publisher.stdout, "ready")
    time.sleep(0.5)
    paused = call(url, RECORDER_PREFIX + "pause", {}, "--protocol", OLD_TOKEN)  # old-token viewers too
    assert paused["protocol"] == OLD_TOKEN and paused["failure"] is None, paused
    assert {RECORDER_PREFIX + c for c in COMMANDS} | {PLAYER_PREFIX + c for c in PLAYER_COMMANDS} <= set(
        paused["services"]
    )
    assert [r["state"] for r in paused["response"]["replies"]] == ["paused"]
    status = subprocess.run(
        simrec_command("recorder", "status", "--domain", domain), capture_output=True, text=True, timeout=60
    )
    assert status.returncode == 0 and ": paused," in status.stdout, status.stdout + status.stderr
    time.sleep(1.0)
    resumed = call(url, RECORDER_PREFIX + "resume")
    assert [r["state"] for r in resumed["response"]["replies"]] == ["recording"]
    publisher.communicate(timeout=60)
    stop(recorder)
    steps = [m.step for m in messages_in(output, "/test/data")]
    assert steps == sorted(steps) and len(steps) < 800
    # The pause: a run of at least 1 s at 100 Hz that the file lacks, between recorded steps.
    assert max(b - a for a, b in itertools.pairwise(steps)) >= 50, steps


def test_a_call_that_cannot_be_answered_fails_with_the_reason(domain: str, tmp_path: Path) -> None:
    ensure_node_peers()
    server = start_process(simrec_command("serve", "--port", "0", "-q"), domain)
    try:
        url = re.search(r"ws://[\w.\[\]:]+", wait_for_line(server.stderr, "live view at")).group(0)
        answer = call(url, RECORDER_PREFIX + "status", {"node": "/nobody"})
        assert answer["response"] is None and "no recorder named /nobody" in answer["failure"]
    finally:
        stop(server)


def test_player_services_of_play_serve_seek_and_refuse_a_bad_value(tmp_path: Path) -> None:
    ensure_node_peers()
    log = write_log(tmp_path / "run.mcap")
    player = start_process(
        simrec_command("play", str(log), "--serve", "--port", "0", "--start-paused", "--no-graph", "-q"),
        "t" + uuid.uuid4().hex[:12],
    )
    try:
        url = re.search(r"ws://[\d.]+:\d+", wait_for_line(player.stderr, "ws://")).group(0)
        seek = call(url, PLAYER_PREFIX + "seek", {"value": 0.5})
        assert seek["response"]["replies"][0]["status"] == "paused"
        assert seek["response"]["replies"][0]["time_s"] == 0.5
        bad = call(url, PLAYER_PREFIX + "rate", {"value": "fast"})
        assert bad["response"] is None and "needs a number" in bad["failure"]
        resumed = call(url, PLAYER_PREFIX + "resume", {}, "--protocol", OLD_TOKEN)
        assert resumed["response"]["replies"][0]["status"] in ("playing", "ended")
    finally:
        player.terminate()
        player.communicate(timeout=30)


PUBLISH = INTEROP_DIR / "publish.mjs"


def publish(url: str, topic: str, encoding: str, schema_name: str, schema: str, payload: str) -> dict:
    done = subprocess.run(
        ["node", str(PUBLISH), url, topic, encoding, schema_name, schema, payload, "8"],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


def _serve_and_record(
    domain: str, output: Path, *serve_args: str
) -> tuple[subprocess.Popen, str, subprocess.Popen]:
    server = start_process(simrec_command("serve", "--port", "0", "-q", *serve_args), domain)
    url = re.search(r"ws://[\w.\[\]:]+", wait_for_line(server.stderr, "live view at")).group(0)
    recorder = start_process(
        simrec_command("record", "/viewer/cmd", "/viewer/json", "-o", str(output), "-q"), domain
    )
    wait_for_line(recorder.stderr, "recording")
    return server, url, recorder


def test_with_allow_publish_a_viewers_messages_reach_the_graph_and_are_recorded(
    domain: str, tmp_path: Path
) -> None:
    ensure_node_peers()
    output = tmp_path / "teleop.mcap"
    server, url, recorder = _serve_and_record(domain, output, "--allow-publish")
    try:
        info = TypeInfo.of(Scalars)
        binary = publish(
            url,
            "/viewer/cmd",
            "protobuf",
            info.name,
            base64.b64encode(info.descriptor_set).decode(),
            Scalars(step=7, values={"x": 1.5}).SerializeToString().hex(),
        )
        as_json = publish(
            url, "/viewer/json", "json", "simrec.Scalars", "-", '{"step": 9, "values": {"y": 2.5}}'
        )
    finally:
        stop(recorder)
        err = stop(server)
    assert "clientPublish" in binary["capabilities"] and not binary["statuses"] and not as_json["statuses"]
    commands = messages_in(output, "/viewer/cmd")
    assert len(commands) >= 4 and all(m.step == 7 and dict(m.values) == {"x": 1.5} for m in commands)
    parsed = messages_in(output, "/viewer/json")
    assert len(parsed) >= 4 and all(m.step == 9 and dict(m.values) == {"y": 2.5} for m in parsed)
    assert "Traceback" not in err


def test_without_allow_publish_a_viewer_cannot_publish(domain: str, tmp_path: Path) -> None:
    ensure_node_peers()
    output = tmp_path / "none.mcap"
    server, url, recorder = _serve_and_record(domain, output)
    try:
        info = TypeInfo.of(Scalars)
        refused = publish(
            url,
            "/viewer/cmd",
            "protobuf",
            info.name,
            base64.b64encode(info.descriptor_set).decode(),
            Scalars(step=7).SerializeToString().hex(),
        )
    finally:
        recorder.send_signal(signal.SIGINT)
        _, recorder_err = recorder.communicate(timeout=30)
        stop(server)
    assert "clientPublish" not in refused["capabilities"] and refused["sent"] == 8
    # The recorder found nothing to record, and says so (exit 1), rather than an empty success.
    assert recorder.returncode == 1 and "nothing recorded" in recorder_err, recorder_err
    assert messages_in(output, "/viewer/cmd") == []


PARAMS = INTEROP_DIR / "params.mjs"


def parameters(url: str, *set_args: str) -> dict:
    done = subprocess.run(["node", str(PARAMS), url, *set_args], capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


def actions(url: str) -> list[float]:
    """The demo's published actions (every env's force) in a few /sim/state messages."""
    code, events = run_client(url, "--topic", "/sim/state", "--count", "5")
    assert code == 0, events[-3:]
    forces = []
    for event in (e for e in events if e["event"] == "message"):
        tensors = {t["key"]: t["value"] for t in event["message"]["tensors"]}
        forces += tensors["action"]["float32_data"]
    return forces


def test_a_parameter_set_from_the_viewer_reaches_the_demo_and_changes_what_it_publishes(
    domain: str,
) -> None:
    ensure_node_peers()
    server = start_process(simrec_command("serve", "--port", "0", "-q"), domain)
    demo = start_process(simrec_command("demo", "--duration", "60", "--envs", "4", "-q"), domain)
    try:
        url = re.search(r"ws://[\w.\[\]:]+", wait_for_line(server.stderr, "live view at")).group(0)
        assert any(f != 0 for f in actions(url))  # the controller pushes the carts
        listed = parameters(url)
        assert "parameters" in listed["capabilities"]
        values = {p["name"]: p["value"] for p in listed["get"]}
        assert values["/demo_sim.action_scale"] == 1 and values["/demo_sim.num_envs"] == 4
        answer = parameters(url, "/demo_sim.action_scale", "0")
        assert answer["set"] == [{"name": "/demo_sim.action_scale", "value": 0, "type": "float64"}]
        assert not answer["statuses"]
        time.sleep(0.3)
        assert set(actions(url)) == {0.0}  # the node's on-set callback took the controller off
        refused = parameters(url, "/demo_sim.num_envs", "8")  # fixed at start: the node refuses
        assert any("only be set at start" in s for s in refused["statuses"]), refused
        assert refused["set"] == [{"name": "/demo_sim.num_envs", "value": 4}]
    finally:
        demo.send_signal(signal.SIGINT)
        demo.communicate(timeout=30)
        stop(server)
