"""A graph across hosts: network namespaces as hosts, one ``simrec router`` each, joined by veths.

Needs root and iproute2 (skipped with the reason elsewhere). Each namespace has only its own
loopback and the 10.200.x.y/30 addresses the test gives its veths; nothing else is a target.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest
from mcap.reader import make_reader

from .netns import LOCAL_ROUTER, Hosts, why_no_namespaces

_WHY_NOT = why_no_namespaces()
pytestmark = pytest.mark.skipif(_WHY_NOT is not None, reason=_WHY_NOT or "")


@pytest.fixture
def hosts():
    made = Hosts()
    try:
        yield made
    finally:
        made.close()
        assert made.namespaces_left() == [], "a test namespace outlived its test"


def _env(domain: str) -> dict[str, str]:
    return {"SIMREC_DOMAIN": domain, "SIMREC_ZENOH_CONNECT": LOCAL_ROUTER}


def _start_recorder(hosts: Hosts, host: str, output: Path, domain: str):
    recorder = hosts.start(
        host, "record", "-a", "-q", "-o", str(output), "--stats-period", "0", env=_env(domain)
    )
    recorder.wait_for("recording all matching topics")
    return recorder


def _published(demo) -> int:
    match = re.search(r"([\d,]+) messages published", demo.text)
    assert match, demo.text
    return int(match.group(1).replace(",", ""))


def _settle(hosts: Hosts, host: str, domain: str) -> int:
    """Wait until the recorder's received count stops growing (what was in flight arrived)."""
    last = -1
    for _ in range(40):
        status = hosts.run(host, "recorder", "status", "--json", env=_env(domain))
        match = re.search(r'"received": (\d+)', status.text)
        received = int(match.group(1)) if match else -1
        if received == last:
            return received
        last = received
        time.sleep(0.5)
    return last


def _sequences(path: Path) -> dict[str, list[int]]:
    """Each topic's message sequence numbers (the publisher's numbering), read back with mcap."""
    by_topic: dict[str, list[int]] = {}
    with open(path, "rb") as f:
        for _schema, channel, message in make_reader(f).iter_messages():
            by_topic.setdefault(channel.topic, []).append(message.sequence)
    return by_topic


def _info_drops(hosts: Hosts, host: str, path: Path) -> dict[str, int]:
    info = hosts.run(host, "info", str(path))
    assert info.popen.returncode == 0, info.text
    return {m[0]: int(m[1]) for m in re.findall(r"Topic: (\S+).*?Dropped: (\d+)", info.text)}


DEMO = ("demo", "--envs", "4", "--rate", "50", "--camera-rate", "10", "-q")
DEMO_TOPICS = {"/sim/state", "/clock", "/sim/reward", "/tf", "/sim/scene", "/camera/rgb", "/camera/depth"}


def test_a_demo_on_one_host_is_recorded_whole_on_another(hosts: Hosts, domain: str, tmp_path: Path) -> None:
    hosts.routed_line(["a", "b"])
    output = tmp_path / "across.mcap"
    recorder = _start_recorder(hosts, "b", output, domain)
    demo = hosts.start("a", *DEMO, "--duration", "4", env=_env(domain))
    demo.wait_for("publishing")

    listing = hosts.run("b", "topic", "list", "-t", "--wait", "2", env=_env(domain))
    assert listing.popen.returncode == 0, listing.text
    assert "/sim/state [simrec.StateBatch]" in listing.text, listing.text
    assert "/camera/rgb [foxglove.CompressedImage]" in listing.text, listing.text

    status = hosts.run(
        "a", "recorder", "status", "--timeout", "3", env=_env(domain)
    )  # from A to B's recorder
    assert status.popen.returncode == 0, status.text
    assert "recording, file" in status.text and str(output) in status.text, status.text

    assert demo.wait(30) == 0, demo.text
    _settle(hosts, "b", domain)
    assert recorder.stop() == 0, recorder.text
    sequences = _sequences(output)
    assert set(sequences) == DEMO_TOPICS
    for topic, numbers in sequences.items():  # from the recorder's first message on, every one
        assert numbers == list(range(numbers[0], numbers[-1] + 1)), topic
    assert sum(numbers[-1] + 1 for numbers in sequences.values()) == _published(demo)
    assert _info_drops(hosts, "b", output) == dict.fromkeys(DEMO_TOPICS, 0)

    player = hosts.start("b", "play", str(output), "-l", "-q", env=_env(domain))
    player.wait_for("playing")
    paused = hosts.run("a", "player", "pause", env=_env(domain))  # from A to B's player
    assert paused.popen.returncode == 0, paused.text
    status = hosts.run("a", "player", "status", env=_env(domain))
    assert "paused" in status.text.lower(), status.text
    assert player.stop() == 0, player.text


def test_a_link_down_for_2_s_is_a_counted_gap_and_recording_goes_on(
    hosts: Hosts, domain: str, tmp_path: Path
) -> None:
    routers = hosts.routed_line(["a", "b"])
    output = tmp_path / "fault.mcap"
    recorder = _start_recorder(hosts, "b", output, domain)
    demo = hosts.start("a", *DEMO, "--duration", "8", env=_env(domain))
    demo.wait_for("publishing")
    time.sleep(2.0)
    hosts.set_link("a", "b", up=False)
    down_at = time.time_ns()
    time.sleep(2.0)
    hosts.set_link("a", "b", up=True)
    up_at = time.time_ns()

    assert demo.wait(40) == 0, demo.text  # the publishers were held back at most a while
    _settle(hosts, "b", domain)
    assert recorder.stop() == 0, recorder.text  # and nothing hangs at the end

    log_times: list[int] = []
    sequences = _sequences(output)  # the file is whole: the mcap reader reads it to the end
    with open(output, "rb") as f:
        log_times = [message.log_time for _s, _c, message in make_reader(f).iter_messages()]
    assert any(t > up_at for t in log_times), "nothing was recorded after the link came back"
    assert any(t < down_at for t in log_times)
    drops = _info_drops(hosts, "b", output)
    assert set(drops) == DEMO_TOPICS
    for topic, numbers in sequences.items():  # every message is in the file or counted as lost
        missing = (numbers[-1] - numbers[0] + 1) - len(numbers)
        assert drops[topic] == missing, (topic, drops[topic], missing, recorder.text)
    print(f"link fault: {sum(drops.values())} messages lost of {_published(demo)}; {recorder.text}")

    hosts.set_link("a", "b", up=False)  # routers whose link is down still stop at once
    for router in routers:
        assert router.stop() == 0, router.text
        assert "router: stopped" in router.text


LATCHED_TALKER = """
import time
from simrec_node.graph import LATCHED, Node
from simrec_node.msgs import Clock
with Node("talker") as node:
    publisher = node.create_publisher(Clock, "/latched", LATCHED)
    for step in range(3):
        publisher.publish(Clock(step=step))
    print("latched", flush=True)
    time.sleep(60)
"""
LATE_LISTENER = """
import queue
from simrec_node.graph import LATCHED, Node
from simrec_node.msgs import Clock
got = queue.Queue()
with Node("late") as node:
    node.create_subscription(Clock, "/latched", got.put, LATCHED)
    print("late joiner got step", got.get(timeout=15).step, flush=True)
"""


def test_a_third_host_behind_the_second_gets_the_first_hosts_topics(hosts: Hosts, domain: str) -> None:
    hosts.routed_line(["a", "b", "c"])
    demo = hosts.start("a", *DEMO, "--duration", "20", env=_env(domain))
    talker = hosts.spawn("a", [sys.executable, "-c", LATCHED_TALKER], _env(domain))
    demo.wait_for("publishing")
    talker.wait_for("latched")
    late = hosts.spawn("c", [sys.executable, "-c", LATE_LISTENER], _env(domain))
    assert late.wait(30) == 0, late.text
    assert "late joiner got step 2" in late.text  # a latched topic's last message, two routers away
    listing = hosts.run("c", "topic", "list", "-t", "--wait", "2", env=_env(domain))
    assert "/sim/state [simrec.StateBatch]" in listing.text, listing.text
    echo = hosts.run("c", "topic", "echo", "/clock", "--count", "3", env=_env(domain), timeout_s=20)
    assert echo.popen.returncode == 0, echo.text
    assert echo.text.count("clock") >= 3 or echo.text.count("sec") >= 3, echo.text


def test_the_live_view_on_one_host_shows_another_hosts_topics(hosts: Hosts, domain: str) -> None:
    from .mcap_interop import INTEROP_DIR, ensure_node_peers

    ensure_node_peers()
    hosts.routed_line(["a", "b"])
    demo = hosts.start("a", *DEMO, "--duration", "20", env=_env(domain))
    demo.wait_for("publishing")
    serve = hosts.start("b", "serve", "-a", "--port", "0", "-q", env=_env(domain))
    serve.wait_for("live view at")
    url = re.search(r"ws://[\w.\[\]:]+", serve.text).group(0)
    client = hosts.spawn(
        "b", ["node", str(INTEROP_DIR / "live_client.mjs"), url, "--topic", "/clock", "--count", "3"]
    )
    assert client.wait(40) == 0, client.text
    events = [json.loads(line) for line in client.lines if line.startswith("{")]
    clocks = [e for e in events if e["event"] == "message" and e["topic"] == "/clock"]
    assert len(clocks) >= 3, client.text  # A's clock, decoded in a Foxglove client on B
