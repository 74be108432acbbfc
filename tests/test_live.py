"""The live Foxglove view, checked with a real Foxglove WebSocket client (@foxglove/ws-protocol).

``simrec record --serve`` and ``simrec serve`` run as processes; tests/interop/live_client.mjs
connects with subprotocol foxglove.sdk.v1, decodes messages with the advertised descriptors
and prints JSON lines that these tests check against what was published.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from mcap.reader import make_reader

from simrec_node.graph import Node, TypeInfo
from simrec_node.live import LiveBridge, LiveOptions
from simrec_node.live.bridge import _MAX_HOLD
from simrec_node.msgs import CompressedImage, Scalars

from .conftest import publisher_command, read_until, simrec_command, start_process, wait_for_line
from .mcap_interop import INTEROP_DIR, ensure_node_peers, node_validate

CLIENT = INTEROP_DIR / "live_client.mjs"


@pytest.fixture(autouse=True)
def _node_peers() -> None:
    ensure_node_peers()


def start_client(url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        ["node", str(CLIENT), url, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def client_events(client: subprocess.Popen, timeout_s: float = 60) -> list[dict]:
    out, err = client.communicate(timeout=timeout_s)
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert client.returncode == 0, f"client failed: {err}\n{out[-2000:]}"
    return events


def killed_client_events(client: subprocess.Popen) -> list[dict]:
    """Stop a client that would read on forever; its events, less a line cut short by the kill."""
    client.kill()
    out, _ = client.communicate()
    lines = out.splitlines() if out.endswith("\n") else out.splitlines()[:-1]
    return [json.loads(line) for line in lines]


def live_url(process: subprocess.Popen) -> str:
    line = wait_for_line(process.stderr, "live view at")
    return re.search(r"ws://[\w.\[\]:]+", line).group(0)


def start_live_recorder(domain: str, output: Path, *args: str) -> tuple[subprocess.Popen, str]:
    """``simrec record ARGS --serve`` on a free port, once recording; returns it and its URL."""
    recorder = start_process(
        simrec_command("record", *args, "--serve", "--port", "0", "-o", str(output), "-q"), domain
    )
    url = live_url(recorder)
    wait_for_line(recorder.stderr, "recording")
    return recorder, url


def as_dict(entries: list[dict] | dict) -> dict:
    """Protobuf maps as decoded from a descriptor: a list of {key, value} entries."""
    return entries if isinstance(entries, dict) else {e["key"]: e["value"] for e in entries}


def stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    return err


def messages_in(path: Path, topic: str) -> list:
    with path.open("rb") as f:
        reader = make_reader(f, validate_crcs=True)
        return [
            Scalars.FromString(m.data)
            for _, c, m in reader.iter_messages(log_time_order=False)
            if c.topic == topic
        ]


def test_record_serve_streams_decodable_messages_and_the_file_is_complete(
    domain: str, tmp_path: Path
) -> None:
    output = tmp_path / "live.mcap"
    recorder, url = start_live_recorder(domain, output, "/test/data")
    assert url.startswith("ws://127.0.0.1:")
    client = start_client(
        url, "--topic", "/test/data", "--count", "30", "--graph", "/test/data", "--timeout", "45"
    )
    # The first message makes the topic known (advertised); the other 299 wait until the viewer
    # has subscribed, so a viewer slow to start cannot miss them all.
    publisher = start_process(
        publisher_command("--type", "scalars", "--count", "300", "--rate", "100", "--pause-after", "1"),
        domain,
        stdin=subprocess.PIPE,
    )
    wait_for_line(publisher.stdout, "paused", timeout_s=30)
    early = [json.loads(line) for line in read_until(client.stdout, '"subscribed"', timeout_s=30)]
    publisher.stdin.write("go\n")
    publisher.stdin.flush()
    events = early + client_events(client)
    publisher.communicate(timeout=30)
    assert publisher.returncode == 0
    err = stop(recorder)

    info = next(e for e in events if e["event"] == "serverInfo")
    assert info["protocol"] == "foxglove.sdk.v1" and "connectionGraph" in info["capabilities"]
    channel = next(e for e in events if e["event"] == "advertise" and e["topic"] == "/test/data")
    assert channel["encoding"] == "protobuf" and channel["schemaEncoding"] == "protobuf"
    assert channel["schemaName"] == "simrec.Scalars"
    steps = [int(e["message"]["step"]) for e in events if e["event"] == "message"]
    # The client stops after 30 messages *and* a graph update, so it may have read more.
    assert len(steps) >= 30
    assert steps == list(range(steps[0], steps[0] + len(steps))), steps  # the publisher's counter, in order
    for event in (e for e in events if e["event"] == "message"):
        assert as_dict(event["message"]["values"])["i"] == float(event["message"]["step"])
    graphs = [e for e in events if e["event"] == "graph"]
    assert any(t["name"] == "/test/data" for g in graphs for t in g["publishedTopics"])

    recorded = messages_in(output, "/test/data")  # the live view took nothing from the file
    assert [m.step for m in recorded] == list(range(300))
    assert node_validate(output)["messageCount"] == 300
    assert "0 dropped" in err


def test_a_client_that_never_reads_does_not_stall_the_recorder(domain: str, tmp_path: Path) -> None:
    output = tmp_path / "stalled.mcap"
    recorder, url = start_live_recorder(domain, output, "/test/big")
    count, payload = 2000, "x" * 30_000  # 60 MB: far beyond the socket buffers and the backlog
    with Node("flood") as node:
        publisher = node.create_publisher(Scalars, "/test/big")
        assert publisher.wait_for_subscribers(20)
        publisher.publish(Scalars(step=0))  # the bridge advertises the topic on first sight
        client = start_client(url, "--topic", "/test/big", "--stall", "--timeout", "60")
        wait_for_line(client.stdout, '"stalled"', timeout_s=30)
        for step in range(1, count):
            publisher.publish(Scalars(step=step, values={payload: 1.0}))
        time.sleep(1.0)  # stragglers in flight
        assert client.poll() is None  # still connected, and still not reading
        err = stop(recorder)
        client.kill()
        client.communicate()
    assert [m.step for m in messages_in(output, "/test/big")] == list(range(count))
    assert "0 dropped" in err


def test_big_messages_over_the_live_budget_skip_viewers_not_the_recording(
    domain: str, tmp_path: Path
) -> None:
    output = tmp_path / "budget.mcap"
    recorder, url = start_live_recorder(domain, output, "-a", "--live-bandwidth", "1")
    frame = "x" * 200_000  # 200 kB: above the 64 KiB line, so it counts against the budget
    count = 100
    with Node("frames") as node:
        frames = node.create_publisher(Scalars, "/test/frames")
        plot = node.create_publisher(Scalars, "/test/plot")
        assert frames.wait_for_subscribers(20) and plot.wait_for_subscribers(20)
        frames.publish(Scalars(step=0, values={frame: 0.0}))  # the bridge advertises on first sight
        plot.publish(Scalars(step=0))
        client = start_client(
            url, "--topic", "/test/frames", "--topic", "/test/plot", "--no-decode", "--count", "1e9"
        )
        wait_for_line(client.stdout, '"subscribed"', timeout_s=30)
        time.sleep(0.5)  # the server registers the subscriptions
        for step in range(1, count):  # 20 MB in about 2 s: ten times the budget
            frames.publish(Scalars(step=step, values={frame: float(step)}))
            plot.publish(Scalars(step=step))
            time.sleep(0.02)
        time.sleep(1.0)
        err = stop(recorder)
        client.kill()
        client.communicate()

    assert [m.step for m in messages_in(output, "/test/frames")] == list(range(count))
    assert [m.step for m in messages_in(output, "/test/plot")] == list(range(count))
    assert err.count("now skip the viewers, starting with /test/frames") == 1  # said once, when it began
    line = next(line for line in err.splitlines() if "were not sent to viewers" in line)
    assert "big messages beyond 1 MB/s (2/s per topic while the recorder is behind)" in line
    assert "--live-bandwidth" in line and "/test/plot" not in line
    thinned = int(re.search(r"/test/frames ([\d,]+)", line).group(1).replace(",", ""))
    assert 50 <= thinned < count  # 1 MB/s lets ~5 frames a second through, plus a first burst


def test_each_topic_reaches_viewers_at_most_at_the_live_rate(domain: str, tmp_path: Path) -> None:
    """A 100-byte flood reaches the viewer thinned to --live-rate; a slow topic whole; the file
    keeps every message of both."""
    output = tmp_path / "rate.mcap"
    recorder, url = start_live_recorder(domain, output, "-a", "--live-rate", "20")
    with Node("rates") as node:
        fast = node.create_publisher(Scalars, "/test/fast")
        slow = node.create_publisher(Scalars, "/test/slow")
        assert fast.wait_for_subscribers(20) and slow.wait_for_subscribers(20)
        fast.publish(Scalars(step=0))  # the bridge advertises on first sight
        slow.publish(Scalars(step=0))
        client = start_client(url, "--topic", "/test/fast", "--topic", "/test/slow", "--count", "1e9")
        wait_for_line(client.stdout, '"subscribed"', timeout_s=30)
        time.sleep(0.5)  # the server registers the subscriptions
        started = time.monotonic()
        for step in range(1, 2001):  # ~2,000 msg/s for about a second
            fast.publish(Scalars(step=step))
            if step % 200 == 0:  # 10 msg/s: under the rate
                slow.publish(Scalars(step=step // 200))
            time.sleep(0.0005)
        elapsed = time.monotonic() - started
        time.sleep(1.0)
        err = stop(recorder)
        events = killed_client_events(client)
    seen: dict[str, list[int]] = {"/test/fast": [], "/test/slow": []}
    for event in events:
        if event["event"] == "message":
            seen[event["topic"]].append(int(event["message"].get("step", 0)))
    assert [m.step for m in messages_in(output, "/test/fast")] == list(range(2001))
    assert seen["/test/slow"] == list(range(1, 11))  # every one, in order
    fast_seen = seen["/test/fast"]
    assert fast_seen == sorted(fast_seen) and 3 <= len(fast_seen) <= 20 * elapsed + 2, fast_seen
    line = next(line for line in err.splitlines() if "were not sent to viewers" in line)
    assert "messages beyond 20/s per topic" in line and "/test/fast" in line and "/test/slow" not in line
    assert "--live-rate" in line


def test_live_bandwidth_is_checked_before_anything_starts(domain: str, tmp_path: Path) -> None:
    output = tmp_path / "never.mcap"
    cases = [
        (simrec_command("serve", "--live-bandwidth", "-1", "--port", "0"), "expected MB/s >= 0"),
        (simrec_command("serve", "--live-bandwidth", "fast", "--port", "0"), "expected MB/s >= 0"),
        (simrec_command("serve", "--live-rate", "-5", "--port", "0"), "expected messages/s >= 0"),
        (simrec_command("record", "-a", "--live-bandwidth", "5", "-o", str(output)), "add --serve"),
        (simrec_command("record", "-a", "--live-rate", "5", "-o", str(output)), "add --serve"),
    ]
    for command, needle in cases:
        process = start_process(command, domain)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 2, err
        assert needle in err and "Traceback" not in err, err
    assert not output.exists()


def test_serve_bridges_the_demo_with_schemas_and_values(domain: str) -> None:
    server = start_process(simrec_command("serve", "--port", "0", "-q"), domain)
    url = live_url(server)
    demo = start_process(simrec_command("demo", "--duration", "20", "--envs", "3", "-q"), domain)
    try:
        client = start_client(url, "--topic", "/sim/state", "--topic", "/camera/rgb", "--count", "5")
        events = client_events(client)
    finally:
        demo.send_signal(signal.SIGINT)
        demo.communicate(timeout=30)
    err = stop(server)

    schemas = {e["topic"]: e["schemaName"] for e in events if e["event"] == "advertise"}
    assert schemas["/sim/state"] == "simrec.StateBatch"
    assert schemas["/camera/rgb"] == "foxglove.CompressedImage"
    states = [e["message"] for e in events if e["event"] == "message" and e["topic"] == "/sim/state"]
    assert len(states) >= 5
    for state in states:
        assert state["num_envs"] == 3
        qpos = as_dict(state["tensors"])["qpos"]
        assert [int(n) for n in qpos["shape"]] == [3, 2] and len(qpos["float32_data"]) == 6
    images = [e["message"] for e in events if e["event"] == "message" and e["topic"] == "/camera/rgb"]
    assert images[0]["format"] == "jpeg" and images[0]["data"]["bytes"] > 1000
    assert re.search(r"served [\d,]+ messages", err)


def test_bridge_forwards_only_to_subscribed_clients_and_adds_later_topics(domain: str) -> None:
    with LiveBridge(LiveOptions(port=0, graph_period_s=0.3)) as bridge, Node("pub") as node:
        bridge.follow(["/**"])
        first = node.create_publisher(Scalars, "/live/first")
        first.wait_for_subscribers(10)
        for step in range(20):
            first.publish(Scalars(step=step))
        _wait_until(lambda: "/live/first" in bridge.topics)
        for step in range(20):
            first.publish(Scalars(step=step))
        time.sleep(0.3)
        assert bridge.forwarded == 0  # nobody subscribed: nothing handed to the server

        client = start_client(
            bridge.url, "--topic", "/live/first", "--topic", "/live/later", "--count", "3", "--timeout", "30"
        )
        later = node.create_publisher(TypeInfo.of(Scalars), "/live/later")  # appears after the client
        deadline = time.monotonic() + 40
        step = 0
        while client.poll() is None and time.monotonic() < deadline:
            first.publish(Scalars(step=step))
            later.publish(Scalars(step=step, values={"later": 1.0}))
            step += 1
            time.sleep(0.02)
        events = client_events(client)
    assert bridge.forwarded >= 6
    assert {"/live/first", "/live/later"} <= {e["topic"] for e in events if e["event"] == "advertise"}
    assert any(e["topic"] == "/live/later" for e in events if e["event"] == "message")


def test_a_burst_reaches_the_viewer_whole_and_in_order_though_nothing_follows(domain: str) -> None:
    """Messages for viewers go out in batches: the last batch of a burst is sent by the bridge
    thread, with no later message to carry it."""
    with LiveBridge(LiveOptions(port=0, max_rate_hz=None)) as bridge, Node("pub") as node:
        bridge.follow(["/live/burst"])
        publisher = node.create_publisher(Scalars, "/live/burst")
        publisher.wait_for_subscribers(10)
        publisher.publish(Scalars(step=1000))  # advertised on first sight, before the client
        _wait_until(lambda: "/live/burst" in bridge.topics)
        client = start_client(bridge.url, "--topic", "/live/burst", "--count", "50", "--timeout", "30")
        wait_for_line(client.stdout, '"subscribed"', timeout_s=30)
        time.sleep(0.5)  # the server registers the subscription
        for step in range(50):  # a few milliseconds in all: most wait in the outbox
            publisher.publish(Scalars(step=step))
        events = client_events(client)
    steps = [int(e["message"].get("step", 0)) for e in events if e["event"] == "message"]
    assert steps == list(range(50))


def test_a_flood_is_held_back_by_count_and_a_topic_that_slows_down_after_it_loses_few(domain: str) -> None:
    """In a flood most messages are held back without reading the clock: the counts stay exact
    and the rate holds; once the topic slows below the rate, at most _MAX_HOLD of its messages
    miss the viewer and every later one arrives."""
    topic, flood, tail = "/live/flood", 20_000, 60
    reached = 0

    with LiveBridge(LiveOptions(port=0)) as bridge, Node("pub") as pub_node, Node("sub") as sub_node:

        def tap(message) -> None:  # as a recorder's tap: counts what reaches the bridge
            nonlocal reached
            reached += 1
            bridge.forward(message)

        sub_node.create_subscription(None, topic, tap)
        publisher = pub_node.create_publisher(Scalars, topic)
        assert publisher.wait_for_subscribers(10)
        publisher.publish(Scalars(step=flood + tail))  # advertised on first sight, not forwarded
        _wait_until(lambda: topic in bridge.topics)
        client = start_client(bridge.url, "--topic", topic, "--count", "1e9")
        wait_for_line(client.stdout, '"subscribed"', timeout_s=30)
        time.sleep(0.5)  # the server registers the subscription
        started = time.monotonic()
        for step in range(1, flood + 1):  # step 0 would be encoded as no field at all
            publisher.publish(Scalars(step=step))
        _wait_until(lambda: reached >= 1 + flood)
        flood_s = time.monotonic() - started
        flood_forwarded = bridge.forwarded  # exact: the tap runs on one thread
        for step in range(flood + 1, flood + tail + 1):  # 100/s: under the default 1,000/s
            publisher.publish(Scalars(step=step))
            time.sleep(0.01)
        _wait_until(lambda: reached >= 1 + flood + tail)
        time.sleep(0.5)
        thinned, forwarded = bridge.thinned.get(topic, 0), bridge.forwarded
        events = killed_client_events(client)
    steps = [int(e["message"].get("step", 0)) for e in events if e["event"] == "message"]
    assert thinned + forwarded == flood + tail  # every message that reached the bridge, once
    assert steps == sorted(steps)
    flood_seen = [step for step in steps if step <= flood]
    assert 1 <= len(flood_seen) <= flood_forwarded <= 1000 * flood_s + 2, (flood_forwarded, flood_s)
    assert thinned > flood / 2  # the flood was thinned: far faster than 1,000/s
    tail_seen = [step for step in steps if step > flood]
    assert set(range(flood + 1 + _MAX_HOLD, flood + tail + 1)) <= set(tail_seen), tail_seen


def test_big_messages_reach_viewers_twice_a_second_while_the_recorder_is_behind(domain: str) -> None:
    """``yield_to``: frames pass whole while the recorder keeps up, and at most ~2/s per topic
    while it is behind; small messages never wait on it."""
    behind = threading.Event()
    pixels = bytes(100_000)  # above the 64 KiB line

    def frame(step: int) -> CompressedImage:
        return CompressedImage(frame_id=str(step), format="jpeg", data=pixels)

    with LiveBridge(LiveOptions(port=0)) as bridge, Node("pub") as node:
        bridge.yield_to(behind.is_set)
        bridge.follow(["/live/frames", "/live/plot"])
        frames = node.create_publisher(CompressedImage, "/live/frames")
        plot = node.create_publisher(Scalars, "/live/plot")
        assert frames.wait_for_subscribers(10) and plot.wait_for_subscribers(10)
        frames.publish(frame(1000))  # advertised on first sight
        plot.publish(Scalars(step=1000))
        _wait_until(lambda: {"/live/frames", "/live/plot"} <= set(bridge.topics))
        client = start_client(
            bridge.url, "--topic", "/live/frames", "--topic", "/live/plot", "--count", "1e9"
        )
        wait_for_line(client.stdout, '"subscribed"', timeout_s=30)
        time.sleep(0.5)  # the server registers the subscriptions
        for step in range(100):  # 50 frames/s: 20 while keeping up, then 80 while behind
            if step == 20:
                behind.set()
                behind_since = time.monotonic()
            frames.publish(frame(step))
            plot.publish(Scalars(step=step))
            time.sleep(0.02)
        behind_s = time.monotonic() - behind_since
        time.sleep(1.0)
        thinned = bridge.thinned
        events = killed_client_events(client)
    messages = [e for e in events if e["event"] == "message"]
    plot_seen = [int(e["message"].get("step", 0)) for e in messages if e["topic"] == "/live/plot"]
    frames_seen = [int(e["message"]["frame_id"]) for e in messages if e["topic"] == "/live/frames"]
    assert plot_seen == list(range(100))  # small messages: every one
    assert frames_seen[:20] == list(range(20)), frames_seen  # every frame while the recorder kept up
    while_behind = frames_seen[20:]
    assert while_behind == sorted(while_behind) and 1 <= len(while_behind) <= 2 * behind_s + 1, frames_seen
    assert thinned == {"/live/frames": 80 - len(while_behind)}


def _wait_until(condition, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_port_in_use_and_bad_host_are_one_line_errors(domain: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        output = tmp_path / "never.mcap"
        cases = [
            (simrec_command("serve", "--port", port), "already in use"),
            (simrec_command("record", "-a", "--serve", "--port", port, "-o", str(output)), "already in use"),
            (simrec_command("serve", "--host", "no such host!", "--port", "0"), "cannot serve Foxglove on"),
            (simrec_command("serve", "--port", "70000"), "port number"),
            (simrec_command("record", "-a", "--port", "9000", "-o", str(output)), "add --serve"),
        ]
        for command, needle in cases:
            process = start_process(command, domain)
            _, err = process.communicate(timeout=60)
            assert process.returncode == 2, err
            assert needle in err and "Traceback" not in err, err
            assert len([line for line in err.splitlines() if "error" in line]) == 1, err
    assert not output.exists()


def test_serve_takes_remaps_from_ros_args(domain: str) -> None:
    """`simrec serve state --ros-args -r state:=/sim/state` (as a launch file passes it) serves /sim/state."""
    server = start_process(
        simrec_command("serve", "state", "--port", "0", "-q", "--ros-args", "-r", "state:=/sim/state"), domain
    )
    url = live_url(server)
    demo = start_process(simrec_command("demo", "--duration", "20", "--envs", "2", "-q"), domain)
    try:
        events = client_events(start_client(url, "--topic", "/sim/state", "--count", "2"))
    finally:
        demo.send_signal(signal.SIGINT)
        demo.communicate(timeout=30)
    stop(server)
    advertised = {e["topic"] for e in events if e["event"] == "advertise"}
    assert advertised == {"/sim/state"}  # only the remapped topic, not the demo's others
    assert len([e for e in events if e["event"] == "message"]) >= 2
    refused = subprocess.run(
        simrec_command("serve", "--ros-args", "-p", "x:=1"), capture_output=True, text=True, timeout=30
    )
    assert refused.returncode == 2 and "has no parameters" in refused.stderr
