"""One port for every Foxglove viewer: clients offering ``foxglove.websocket.v1`` (Foxglove Studio
1.x, Lichtblick before 1.22, ws-protocol clients), both tokens, or ``foxglove.sdk.v1.1`` connect to
the same ``simrec`` server, checked with the real @foxglove/ws-protocol client
(tests/interop/live_client.mjs, ``--protocol`` sets the tokens it offers).
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from simrec_node.live.front import OLD_CAPABILITIES, OLD_TOKEN, OldProtocolFilter

from .conftest import publisher_command, simrec_command, start_process, wait_for_line
from .mcap_interop import INTEROP_DIR, ensure_node_peers
from .test_play import SPACING_NS, write_log

CLIENT = INTEROP_DIR / "live_client.mjs"


def run_client(url: str, *args: str, timeout_s: float = 60) -> tuple[int, list[dict]]:
    out = subprocess.run(
        ["node", str(CLIENT), url, *args], capture_output=True, text=True, timeout=timeout_s
    ).stdout
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    return (0 if events and events[-1]["event"] == "done" else 1), events


def offering(*tokens: str) -> list[str]:
    return [arg for token in tokens for arg in ("--protocol", token)]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, subprocess.Popen]]:
    """``simrec serve`` with a publisher of /test/data at 100 Hz: its URL and process."""
    ensure_node_peers()
    domain = "t" + uuid.uuid4().hex[:12]
    server = start_process(simrec_command("serve", "--port", "0", "-q"), domain)
    url = re.search(r"ws://[\w.\[\]:]+", wait_for_line(server.stderr, "live view at")).group(0)
    publisher = start_process(
        publisher_command("--type", "scalars", "--count", "6000", "--rate", "100"), domain
    )
    yield url, server
    publisher.kill()
    publisher.communicate(timeout=30)
    server.send_signal(signal.SIGINT)
    server.communicate(timeout=30)


@pytest.mark.parametrize(
    ("tokens", "chosen"),
    [
        ((OLD_TOKEN,), OLD_TOKEN),
        ((OLD_TOKEN, "foxglove.sdk.v1"), "foxglove.sdk.v1"),
        (("foxglove.sdk.v1.1",), "foxglove.sdk.v1.1"),
        (("foxglove.sdk.v1", "foxglove.sdk.v1.1", OLD_TOKEN), "foxglove.sdk.v1.1"),
    ],
)
def test_every_token_subscribes_and_decodes_on_one_port(
    served: tuple[str, subprocess.Popen], tokens: tuple[str, ...], chosen: str
) -> None:
    url, _ = served
    code, events = run_client(url, "--topic", "/test/data", "--count", "20", *offering(*tokens))
    assert code == 0, events[-3:]
    info = next(e for e in events if e["event"] == "serverInfo")
    assert info["protocol"] == chosen  # the newest token offered
    assert "connectionGraph" in info["capabilities"]
    channel = next(e for e in events if e["event"] == "advertise" and e["topic"] == "/test/data")
    assert (channel["schemaName"], channel["schemaEncoding"]) == ("simrec.Scalars", "protobuf")
    steps = [int(e["message"]["step"]) for e in events if e["event"] == "message"]
    assert len(steps) >= 20 and steps == sorted(set(steps))  # in order (serve follows best effort)


def test_a_handshake_with_no_token_the_server_speaks_says_why(served: tuple[str, subprocess.Popen]) -> None:
    url, server = served
    code, events = run_client(url, *offering("foxglove.websocket.v2"), timeout_s=30)
    assert code == 1
    assert events[-1]["status"] == 400
    body = events[-1]["body"]
    assert "foxglove.websocket.v2" in body and OLD_TOKEN in body and "foxglove.sdk.v1" in body
    line = wait_for_line(server.stderr, "refused a connection")
    assert "offered foxglove.websocket.v2" in line


def test_an_old_token_client_of_a_looping_player_gets_time_and_no_playback_state(tmp_path: Path) -> None:
    """Each loop broadcasts a PlaybackState (binary opcode 5, which ws-protocol 0.8 rejects as an
    error): an old-token client gets messages and time across several loops, with no error."""
    ensure_node_peers()
    log = write_log(tmp_path / "short.mcap", count=40)  # 0.2 s: 20 messages a topic per loop
    player = start_process(
        simrec_command(
            "play",
            str(log),
            "--serve",
            "--port",
            "0",
            "--loop",
            "--no-graph",
            "-q",
            "--disable-keyboard-controls",
        ),
        "t" + uuid.uuid4().hex[:12],
    )
    try:
        url = re.search(r"ws://[\d.]+:\d+", wait_for_line(player.stderr, "ws://")).group(0)
        code, events = run_client(url, "--topic", "/a/scalars", "--count", "70", *offering(OLD_TOKEN))
    finally:
        player.terminate()
        player.communicate(timeout=30)
    assert code == 0, events[-3:]
    info = next(e for e in events if e["event"] == "serverInfo")
    assert info["protocol"] == OLD_TOKEN
    assert set(info["capabilities"]) <= OLD_CAPABILITIES and "time" in info["capabilities"]
    assert "playbackControl" not in info["capabilities"]
    log_times = [int(e["logTime"]) for e in events if e["event"] == "message"]
    assert len(log_times) >= 70
    assert sum(b < a for a, b in itertools.pairwise(log_times)) >= 2  # crossed loops
    assert any(e["event"] == "time" for e in events)


def test_play_serve_plays_at_the_recorded_rate_times_r_with_no_playback_request(tmp_path: Path) -> None:
    ensure_node_peers()
    log = write_log(tmp_path / "long.mcap", count=1200)  # 6 s; /a/scalars every 10 ms
    player = start_process(
        simrec_command(
            "play",
            str(log),
            "--serve",
            "--port",
            "0",
            "-r",
            "2",
            "--no-graph",
            "-q",
            "--disable-keyboard-controls",
        ),
        "t" + uuid.uuid4().hex[:12],
    )
    try:
        url = re.search(r"ws://[\d.]+:\d+", wait_for_line(player.stderr, "ws://")).group(0)
        code, events = run_client(url, "--topic", "/a/scalars", "--count", "150", *offering(OLD_TOKEN))
    finally:
        player.terminate()
        player.communicate(timeout=30)
    assert code == 0, events[-3:]
    messages = [e for e in events if e["event"] == "message"]
    log_times = [int(m["logTime"]) for m in messages]
    assert log_times == sorted(log_times) and len(log_times) >= 150
    assert all(b - a == 2 * SPACING_NS for a, b in itertools.pairwise(log_times))
    log_span_s = (log_times[-1] - log_times[0]) / 1e9
    wall_span_s = (messages[-1]["at"] - messages[0]["at"]) / 1e3
    # Paced (not sent at once) and at twice the recorded rate (under the 1x span).
    assert log_span_s / 2 * 0.5 <= wall_span_s <= log_span_s * 0.8, (wall_span_s, log_span_s)


def _frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    head += (
        bytes([n])
        if n < 126
        else bytes([126]) + n.to_bytes(2, "big")
        if n < 65536
        else bytes([127]) + n.to_bytes(8, "big")
    )
    return head + payload


def test_the_old_protocol_filter_keeps_what_that_protocol_has_whatever_the_chunking() -> None:
    info = json.dumps(
        {"op": "serverInfo", "name": "s", "capabilities": ["time", "playbackControl"], "dataStartTime": {}}
    )
    stream = b"".join(
        [
            _frame(1, info.encode()),
            _frame(2, b"\x01" + bytes(70_000)),  # message data: passes
            _frame(2, b"\x05" + bytes(20)),  # playback state: dropped
            _frame(1, b'{"op":"somethingNew"}'),  # dropped
            _frame(1, b'{"op":"adv', fin=False) + _frame(9, b"hi") + _frame(0, b'ertise","channels":[]}'),
            _frame(2, b"\x02" + bytes(8)),  # time: passes
        ]
    )
    expected = None
    for chunk in (1, 3, 7, 4096, len(stream)):
        out: list[bytes] = []
        keep = OldProtocolFilter(lambda pieces, out=out: out.extend(bytes(p) for p in pieces))
        view = memoryview(stream)
        for i in range(0, len(stream), chunk):
            keep.feed(view[i : i + chunk])
        got = b"".join(out)
        assert keep.dropped == 2
        if expected is None:
            expected = got
        assert got == expected  # the same bytes however the stream was cut
    sent = json.loads(expected[2 : 2 + expected[1]])
    assert sent == {"op": "serverInfo", "name": "s", "capabilities": ["time"]}
    rest = expected[2 + expected[1] :]
    assert rest.startswith(_frame(2, b"\x01" + bytes(70_000)))
    rest = rest[len(_frame(2, b"\x01" + bytes(70_000))) :]
    assert rest == _frame(9, b"hi") + _frame(1, b'{"op":"advertise","channels":[]}') + _frame(
        2, b"\x02" + bytes(8)
    )


def test_the_in_process_recorder_serves_old_token_viewers_too(domain: str, tmp_path: Path) -> None:
    """``Recorder(serve=True)`` gets its server from the same place as the CLI's."""
    ensure_node_peers()
    from simrec_node.integrations import Recorder

    stop = threading.Event()
    with Recorder(tmp_path / "inprocess.mcap", serve=True, serve_port=0, domain=domain) as recorder:

        def sim() -> None:
            step = 0
            while not stop.wait(0.01):
                recorder.log("/sim/qpos", np.full(3, step, np.float32))
                step += 1

        thread = threading.Thread(target=sim, daemon=True)
        thread.start()
        try:
            code, events = run_client(
                recorder.live_url, "--topic", "/sim/qpos", "--count", "10", *offering(OLD_TOKEN)
            )
        finally:
            stop.set()
            thread.join()
    assert code == 0, events[-3:]
    assert next(e for e in events if e["event"] == "serverInfo")["protocol"] == OLD_TOKEN
    values = [e["message"]["float32_data"] for e in events if e["event"] == "message"]
    assert len(values) >= 10 and all(len(set(v)) == 1 and len(v) == 3 for v in values)
