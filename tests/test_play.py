"""`simrec play` onto the graph, for real: a log written with McapWriter, played by a subprocess,
received by a subscriber in this process."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from simrec_node.graph import Node
from simrec_node.msgs import Clock, Scalars, descriptor_set_of
from simrec_node.play import PlaybackClock
from simrec_node.record import McapWriter

from .conftest import simrec_command, start_process

T0 = 1_700_000_000_000_000_000
SPACING_NS = 5_000_000
COUNT = 200


def blob_schema() -> bytes:
    """A type with no generated code anywhere: only its schema travels."""
    fds = descriptor_pb2.FileDescriptorSet()
    f = fds.file.add(name="custom/blob.proto", package="custom", syntax="proto3")
    m = f.message_type.add(name="Blob")
    m.field.add(name="payload", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_BYTES, label=1)
    return fds.SerializeToString()


def payload(i: int) -> bytes:
    return bytes([8, i % 128]) if i % 2 == 0 else b"\x0a\x03" + bytes([i % 256, 1, 2])


def write_log(path: Path, count: int = COUNT) -> Path:
    with McapWriter(path, chunk_size=4096) as w:
        scalars = w.add_channel(
            "/a/scalars", "protobuf", w.add_schema("simrec.Scalars", "protobuf", descriptor_set_of(Scalars))
        )
        blob = w.add_channel("/b/blob", "protobuf", w.add_schema("custom.Blob", "protobuf", blob_schema()))
        for i in range(count):
            w.write(
                scalars if i % 2 == 0 else blob, i, T0 + i * SPACING_NS, T0 + i * SPACING_NS - 7, payload(i)
            )
    return path


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_log(tmp_path_factory.mktemp("play") / "run.mcap")


class Received:
    def __init__(self, node: Node, topics: list[str]) -> None:
        self.messages: list = []
        self.lock = threading.Lock()
        for topic in topics:
            node.create_subscription(None, topic, self._on)

    def _on(self, msg) -> None:
        with self.lock:
            self.messages.append(msg)

    def wait_for(self, count: int, timeout_s: float = 30.0) -> list:
        """What arrived once ``count`` have; a little longer, so a duplicate would show too."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    break
            time.sleep(0.02)
        time.sleep(0.3)
        with self.lock:
            return list(self.messages)


def play(domain: str, *args: str) -> subprocess.Popen:
    return start_process(simrec_command("play", *args, "--disable-keyboard-controls"), domain)


def finish(proc: subprocess.Popen, timeout_s: float = 30) -> tuple[int, str]:
    _out, err = proc.communicate(timeout=timeout_s)
    return proc.returncode, err


def test_every_message_in_order_bytes_identical_with_recorded_spacing(domain: str, log: Path) -> None:
    with Node("listener") as node:
        got = Received(node, ["/a/scalars", "/b/blob"])
        proc = play(domain, str(log), "--rate", "2", "--wait-for-subscribers", "5")
        messages = got.wait_for(COUNT)
        code, err = finish(proc)
        assert code == 0, err
        assert "played 200 messages" in err
        assert len(messages) == COUNT
        # Each topic in recorded order (topics are delivered on their own threads).
        for topic, parity in (("/a/scalars", 0), ("/b/blob", 1)):
            assert [m.data for m in messages if m.topic == topic] == [
                payload(i) for i in range(parity, COUNT, 2)
            ]
        by_stamp = sorted(messages, key=lambda m: m.publish_time_ns)
        assert [m.data for m in by_stamp] == [payload(i) for i in range(COUNT)]
        assert {m.type_name for m in messages} == {"simrec.Scalars", "custom.Blob"}
        assert by_stamp[1].publish_time_ns == T0 + SPACING_NS - 7  # the recorded stamp travels
        # Recorded span 0.995 s at rate 2 -> ~0.5 s; loose bounds only.
        span_s = (messages[-1].receive_time_ns - messages[0].receive_time_ns) / 1e9
        assert 0.25 <= span_s <= 1.5, span_s


def test_loop_plays_twice(domain: str, log: Path) -> None:
    with Node("listener") as node:
        got = Received(node, ["/a/scalars"])
        proc = play(domain, str(log), "--loop", "--rate", "5", "--wait-for-subscribers", "5")
        messages = got.wait_for(2 * COUNT // 2)
        proc.terminate()
        finish(proc)
    assert len(messages) >= COUNT
    assert [m.data for m in messages[: COUNT // 2]] == [m.data for m in messages[COUNT // 2 : COUNT]]


def test_start_offset_remap_and_clock(domain: str, log: Path) -> None:
    with Node("listener") as node:
        got = Received(node, ["/remapped/scalars", "/b/blob"])
        clocks: list = []
        node.create_subscription(Clock, "/clock", clocks.append)
        proc = play(
            domain,
            str(log),
            "--start-offset",
            "0.5",
            "-m",
            "/a/scalars:=/remapped/scalars",
            "--clock",
            "100",
            "--wait-for-subscribers",
            "5",
        )
        code, err = finish(proc)
        assert code == 0, err
        messages = got.wait_for(COUNT // 2, timeout_s=2)
    # Messages from 0.5 s on: i = 100..199.
    assert sorted(m.data for m in messages) == sorted(payload(i) for i in range(100, COUNT))
    assert {m.topic for m in messages} == {"/remapped/scalars", "/b/blob"}
    assert clocks, "no /clock message"
    times = [c.clock.ToNanoseconds() for c in clocks]
    assert all(T0 + 490_000_000 <= t <= T0 + 1_000_000_000 for t in times), times
    assert times == sorted(times)


def test_control_over_the_graph_pause_seek_resume(domain: str, log: Path) -> None:
    with Node("listener") as node:
        got = Received(node, ["/a/scalars", "/b/blob"])
        proc = play(domain, str(log), "--start-paused", "--wait-for-subscribers", "5")
        env_ok = subprocess.run(
            simrec_command("player", "status", "--domain", domain, "--timeout", "5"),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert "paused at 0.000" in env_ok.stdout, env_ok
        time.sleep(0.3)
        assert got.messages == []
        subprocess.run(simrec_command("player", "next", "--domain", domain), capture_output=True, timeout=30)
        first = got.wait_for(1)
        assert [m.data for m in first] == [payload(0)]
        subprocess.run(
            simrec_command("player", "seek", "0.9", "--domain", domain), capture_output=True, timeout=30
        )
        out = subprocess.run(
            simrec_command("player", "resume", "--domain", domain), capture_output=True, text=True, timeout=30
        )
        assert "playing" in out.stdout, out
        code, err = finish(proc)
        assert code == 0, err
        messages = got.wait_for(21, timeout_s=2)
    # 1 stepped message, then from 0.9 s on (i = 181..199).
    assert messages[0].data == payload(0)
    assert sorted(m.publish_time_ns for m in messages[1:]) == [
        T0 + i * SPACING_NS - 7 for i in range(181, COUNT)
    ]


def test_player_verb_without_players_says_so(domain: str) -> None:
    out = subprocess.run(
        simrec_command("player", "pause", "--domain", domain, "--timeout", "0.5"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 1
    assert out.stderr.strip() == f"simrec: error: no player answered in domain {domain}"


def test_clock_stands_still_until_the_player_begins() -> None:
    """/clock published while the player waits for subscribers must not run ahead, then jump back."""
    clock = PlaybackClock(1_000)
    time.sleep(0.02)
    assert clock.now() == 1_000
    clock.begin(1_000)
    time.sleep(0.02)
    assert clock.now() > 1_000 + 10_000_000
    early = PlaybackClock(5_000)
    early.seek(9_000)  # a viewer seeks before the player thread gets going: the clock runs from there
    early.begin(5_000)
    assert early.now() >= 9_000
