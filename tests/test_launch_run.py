"""``simrec launch`` with real processes: the demo launch file recorded to MCAP, Ctrl-C,
required processes, respawn, and the ``--ros-args`` convention of ``simrec demo/record``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mcap.reader import make_reader

from simrec_node.msgs import StateBatch

from .conftest import REPO, simrec_command, wait_for_line
from .conftest import start_process as _start_process

FILES = Path(__file__).resolve().parent / "launch_files"
PY = sys.executable


_started: list[subprocess.Popen] = []


def start_process(command: list[str], domain: str, **kwargs) -> subprocess.Popen:
    proc = _start_process(command, domain, **kwargs)
    _started.append(proc)
    return proc


@pytest.fixture(autouse=True)
def _no_process_left() -> None:
    """If a test fails half-way, stop what it started the way a user would (Ctrl-C first)."""
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _finish(proc: subprocess.Popen, timeout_s: float = 40.0) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"launcher did not finish:\n{out}\n{err}") from None
    return proc.returncode, out, err


def _read_mcap(path: Path) -> tuple[dict[str, int], dict[str, bytes], dict[str, dict[str, str]]]:
    counts: dict[str, int] = {}
    first: dict[str, bytes] = {}
    with path.open("rb") as stream:
        reader = make_reader(stream)
        summary = reader.get_summary()
        assert summary is not None and summary.statistics is not None, "file has no summary"
        for _schema, channel, message in reader.iter_messages():
            counts[channel.topic] = counts.get(channel.topic, 0) + 1
            first.setdefault(channel.topic, message.data)
        metadata = {record.name: dict(record.metadata) for record in reader.iter_metadata()}
    return counts, first, metadata


def test_demo_launch_records_under_namespace_and_remaps(domain: str, tmp_path: Path) -> None:
    output = tmp_path / "run.mcap"
    proc = start_process(
        simrec_command(
            "launch",
            str(REPO / "launch" / "demo.launch.yaml"),
            f"output:={output}",
            "envs:=3",
            "namespace:=/robot1",
            "state_topic:=/robot/state",
        ),
        domain,
    )
    # Both nodes up (in either order), then let them run a little.
    seen = {wait_for_line(proc.stdout, "] ", timeout_s=40)}
    while not any("[demo_sim] demo_sim: 3 envs" in line for line in seen) or not any(
        "[recorder] recording" in line for line in seen
    ):
        seen.add(wait_for_line(proc.stdout, "] ", timeout_s=40))
    time.sleep(2.5)
    proc.send_signal(signal.SIGINT)
    code, out, err = _finish(proc)
    assert code == 0, out + err
    assert "[recorder] wrote" in out
    counts, first, metadata = _read_mcap(output)
    assert {"/robot/state", "/clock", "/tf", "/robot1/sim/reward", "/robot1/camera/rgb"} <= set(counts)
    assert "/sim/state" not in counts and "/robot1/sim/state" not in counts  # remapped away
    assert counts["/robot/state"] > 20
    state = StateBatch.FromString(first["/robot/state"])
    assert state.num_envs == 3  # the launch file's param reached the node
    assert metadata["simrec.recording"]["node_name"] == "recorder"


def test_required_exit_stops_the_rest(domain: str, tmp_path: Path) -> None:
    proc = start_process(
        simrec_command(
            "launch", "--log-dir", str(tmp_path), str(FILES / "required.launch.yaml"), f"py:={PY}"
        ),
        domain,
    )
    code, out, err = _finish(proc)
    assert code == 1, out + err
    assert "[sleeper] up" in out
    assert "[launch] quitter: exited with code 3" in out
    assert "[launch] quitter is required: shutting down the launch" in out
    assert "[launch] sleeper: killed by SIGINT" in out  # one SIGINT was enough
    assert (tmp_path / "quiet.log").read_text() == "to the log file\n"  # output: log
    assert "to the log file" not in out


def test_respawn_and_one_sigint_per_child(domain: str) -> None:
    # Own session, and the signal goes to the whole group: what Ctrl-C in a terminal does.
    proc = start_process(
        simrec_command("launch", str(FILES / "supervise.launch.yaml"), f"py:={PY}"),
        domain,
        start_new_session=True,
    )
    seen: list[str] = []
    deadline = time.monotonic() + 40
    while sum(line.startswith("[crasher] hi") for line in seen) < 3 or "[counter] ready\n" not in seen:
        assert time.monotonic() < deadline, "".join(seen)
        line = proc.stdout.readline()
        assert line, "".join(seen)
        seen.append(line)
    os.killpg(proc.pid, signal.SIGINT)
    code, out, err = _finish(proc)
    text = "".join(seen) + out
    assert "[counter] total 1" in text, text
    assert "(restart 2)" in text
    assert text.count("[launch] crasher: respawning in 0.2 s") >= 2
    assert code == 1, text + err  # a process that crashed on its own is a failure


def _stubborn_file(tmp_path: Path) -> Path:
    """A process that ignores SIGINT, so only escalation stops it."""
    path = tmp_path / "stubborn.launch.yaml"
    path.write_text(
        "launch:\n"
        "  - executable:\n"
        "      name: stubborn\n"
        f'      cmd: {PY} -c "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); '
        "print('up', flush=True); time.sleep(60)\"\n"
    )
    return path


def test_escalation_to_sigterm_after_the_timeout(domain: str, tmp_path: Path) -> None:
    proc = start_process(
        simrec_command("launch", "--sigterm-timeout", "0.5", str(_stubborn_file(tmp_path))), domain
    )
    wait_for_line(proc.stdout, "[stubborn] up")
    proc.send_signal(signal.SIGINT)
    code, out, _err = _finish(proc)
    assert "[launch] stopping: SIGINT to 1 process(es)" in out
    assert "[launch] stubborn: still running, sending SIGTERM" in out
    assert "[launch] stubborn: killed by SIGTERM (forced)" in out
    assert code == 1


def test_second_ctrl_c_escalates_at_once(domain: str, tmp_path: Path) -> None:
    proc = start_process(
        simrec_command("launch", "--sigterm-timeout", "60", str(_stubborn_file(tmp_path))), domain
    )
    wait_for_line(proc.stdout, "[stubborn] up")
    proc.send_signal(signal.SIGINT)
    wait_for_line(proc.stdout, "[launch] stopping: SIGINT")
    proc.send_signal(signal.SIGINT)
    code, out, _err = _finish(proc, timeout_s=30)  # far less than the 60 s timeout
    assert "[launch] stubborn: killed by SIGTERM (forced)" in out
    assert code == 1


def test_all_finished_cleanly_exits_zero(domain: str, tmp_path: Path) -> None:
    path = tmp_path / "done.launch.yaml"
    path.write_text(f"launch:\n  - executable: {{cmd: {PY} -c pass}}\n  - executable: {{cmd: {PY} -V}}\n")
    code, out, err = _finish(start_process(simrec_command("launch", str(path)), domain))
    assert code == 0, out + err
    assert "[launch] python" in out  # names default to the program's file name
    assert "[launch] all processes have finished" in out


def test_demo_and_record_take_ros_args(domain: str, tmp_path: Path) -> None:
    output = tmp_path / "direct.mcap"
    recorder = start_process(
        simrec_command(
            "record", "state", "-o", str(output), "-q", "--ros-args", "__ns:=/r2", "-r", "state:=/moved/state"
        ),
        domain,
    )
    wait_for_line(recorder.stderr, "recording /moved/state")
    demo = start_process(
        simrec_command(
            "demo", "--duration", "2", "-q", "--camera-rate", "0",
            "--ros-args", "-p", "num_envs:=2", "-r", "sim/state:=/moved/state",
        ),
        domain,
    )  # fmt: skip
    assert demo.wait(timeout=40) == 0, demo.stderr.read()
    recorder.send_signal(signal.SIGINT)
    assert recorder.wait(timeout=30) == 0, recorder.stderr.read()
    counts, first, _metadata = _read_mcap(output)
    assert set(counts) == {"/moved/state"}
    assert StateBatch.FromString(first["/moved/state"]).num_envs == 2


def test_demo_rejects_unknown_parameter(domain: str) -> None:
    proc = start_process(simrec_command("demo", "--duration", "1", "--ros-args", "-p", "num_env:=2"), domain)
    code, _out, err = _finish(proc)
    assert code == 2
    assert err.strip().splitlines() == ["simrec: error: demo_sim has no parameter(s) num_env"]
