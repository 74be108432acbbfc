"""`simrec play --clock` on a log that has /clock, a paused player seeked to the end, and
`simrec player --json`: through the real CLI, received by real subscribers."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from simrec_node.graph import Node
from simrec_node.msgs import Clock, Scalars, descriptor_set_of
from simrec_node.record import McapWriter

from .conftest import simrec_command
from .test_play import COUNT, T0, finish, play, write_log

CLOCK_COUNT = 100
CLOCK_SPACING_NS = 10_000_000


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_log(tmp_path_factory.mktemp("play_ux") / "run.mcap")


@pytest.fixture(scope="module")
def clock_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sim's log: /clock carries sim time from 0 s, recorded at wall time T0 on."""
    path = tmp_path_factory.mktemp("play_clock") / "sim.mcap"
    with McapWriter(path, chunk_size=4096) as w:
        clock = w.add_channel(
            "/clock", "protobuf", w.add_schema("simrec.Clock", "protobuf", descriptor_set_of(Clock))
        )
        state = w.add_channel(
            "/sim/state", "protobuf", w.add_schema("simrec.Scalars", "protobuf", descriptor_set_of(Scalars))
        )
        for i in range(CLOCK_COUNT):
            t = T0 + i * CLOCK_SPACING_NS
            sim = Clock(step=i)
            sim.clock.FromNanoseconds(i * CLOCK_SPACING_NS)
            w.write(clock, i, t, i * CLOCK_SPACING_NS, sim.SerializeToString())
            w.write(state, i, t + 1, t + 1, Scalars().SerializeToString())
    return path


def player(domain: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        simrec_command("player", *args, "--domain", domain, "--timeout", "5"),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_play_clock_publishes_one_clock_and_says_the_recorded_one_is_left_out(
    domain: str, clock_log: Path
) -> None:
    with Node("listener") as node:
        clocks: list = []
        node.create_subscription(Clock, "/clock", clocks.append)
        node.create_subscription(Scalars, "/sim/state", lambda _msg: None)  # so play starts at once
        proc = play(domain, str(clock_log), "--clock", "100", "--rate", "2", "--wait-for-subscribers", "5")
        code, err = finish(proc)
        time.sleep(0.3)
    assert code == 0, err
    assert "the recorded /clock is not played (leave out --clock to replay it)" in err, err
    assert "played 100 messages" in err, err  # /sim/state only
    times = [c.clock.ToNanoseconds() for c in clocks]
    assert times, "no /clock message"
    # Only the player's clock (log time, from T0): no recorded sim time (0 .. 1 s) in between.
    assert all(T0 <= t <= T0 + CLOCK_COUNT * CLOCK_SPACING_NS for t in times), times
    assert times == sorted(times)


def test_play_without_clock_replays_the_recorded_clock(domain: str, clock_log: Path) -> None:
    with Node("listener") as node:
        clocks: list = []
        node.create_subscription(Clock, "/clock", clocks.append)
        node.create_subscription(Scalars, "/sim/state", lambda _msg: None)  # so play starts at once
        proc = play(domain, str(clock_log), "--rate", "4", "--wait-for-subscribers", "5")
        code, err = finish(proc)
        time.sleep(0.3)
    assert code == 0, err
    assert "--clock" not in err
    assert sorted(c.step for c in clocks) == list(range(CLOCK_COUNT))


def test_paused_player_seeked_to_the_end_stays_for_more_seeks_until_stop(domain: str, log: Path) -> None:
    proc = play(domain, str(log), "--start-paused", "--wait-for-subscribers", "0")
    try:
        for target in ("0.995", "5"):  # the end, and past it
            out = player(domain, "seek", target)
            assert out.returncode == 0, out
            time.sleep(0.5)  # the player reaches its end while paused
            assert proc.poll() is None, proc.communicate()
            after = player(domain, "status")
            assert after.returncode == 0, after
            assert "at 0.995 / 0.995 s" in after.stdout, after
        back = player(domain, "seek", "0.5")
        assert "paused at 0.500 / 0.995 s" in back.stdout, back
        stop = player(domain, "stop")
        assert stop.returncode == 0, stop
        code, err = finish(proc)
        assert code == 0, err
        assert "played 0 messages" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_paused_player_resumed_at_the_end_finishes(domain: str, log: Path) -> None:
    proc = play(domain, str(log), "--start-paused", "--wait-for-subscribers", "0")
    try:
        assert player(domain, "seek", "0.99").returncode == 0
        resumed = player(domain, "resume")
        assert resumed.returncode == 0, resumed
        code, err = finish(proc)
        assert code == 0, err
        assert "played 1 messages" in err, err  # the last message, at 0.995 s
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_player_json_prints_each_reply_as_one_json_line(domain: str, log: Path) -> None:
    proc = play(domain, str(log), "--start-paused", "--wait-for-subscribers", "0")
    try:
        out = player(domain, "seek", "0.25", "--json")
        assert out.returncode == 0, out
        lines = out.stdout.splitlines()
        assert len(lines) == 1, out.stdout
        reply = json.loads(lines[0])
        assert reply["node"] == "/simrec_player"
        assert reply["status"] == "paused"
        assert reply["time_s"] == pytest.approx(0.25)
        assert reply["duration_s"] == pytest.approx((COUNT - 1) * 0.005)
        bad = player(domain, "rate", "1000", "--json")
        assert bad.returncode == 2
        assert "rate must be between" in json.loads(bad.stdout)["error"]
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
