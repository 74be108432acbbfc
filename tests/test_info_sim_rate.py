"""`simrec info` on in-process and Gymnasium logs: rates over sim time, said so; graph recordings
keep their rates over log time. Through the real CLI."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from simrec_node.integrations import Recorder
from simrec_node.mcap.source import read_footer
from tests.conftest import REPO, simrec_command

SIM_DT = 0.01  # 100 Hz sim
STEPS = 300


def _info(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        simrec_command("info", *args), cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done


def _frequency(text: str, topic: str) -> str:
    match = re.search(rf"Topic: {re.escape(topic)}\s.*?Frequency: ([^|]+?)\s*\|", text)
    assert match, text
    return match.group(1)


def test_in_process_log_rates_are_over_sim_time(tmp_path: Path) -> None:
    path = tmp_path / "inproc.mcap"
    with Recorder(path) as rec:  # logged as fast as Python goes: a burst in wall time
        for step in range(STEPS):
            rec.log("/sim/state", np.full(4, step, dtype=np.float32), sim_time=step * SIM_DT, step=step)
            if step % 4 == 0:
                rec.log("/sim/slow", np.zeros(2, dtype=np.float32), sim_time=step * SIM_DT, step=step)
        rec.log("/wall", np.zeros(1))
        rec.log("/wall", np.ones(1))
    text = _info(str(path)).stdout
    assert _frequency(text, "/sim/state") == "100.00 Hz sim", text
    assert _frequency(text, "/sim/slow") == "25.00 Hz sim", text
    assert not _frequency(text, "/wall").endswith("sim"), text  # no sim time: over log time
    assert "'sim': over the messages' sim time (their publish time)" in text
    data = json.loads(_info(str(path), "--json").stdout)
    state = next(t for t in data["topics"] if t["topic"] == "/sim/state")
    assert state["sim_frequency_hz"] == pytest.approx(100.0)
    assert state["sim_first_ns"] == 0 and state["sim_last_ns"] == round((STEPS - 1) * SIM_DT * 1e9)


def test_a_log_without_its_summary_has_the_same_sim_rates(tmp_path: Path) -> None:
    """A crashed recording (no summary, no footer) is counted by a scan: its topics still carry
    sim time, as `info` and the LeRobot export (frames sampled on sim time) need."""
    path = tmp_path / "crashed.mcap"
    with Recorder(path) as rec:
        for step in range(STEPS):
            rec.log("/sim/state", np.full(4, step, dtype=np.float32), sim_time=step * SIM_DT, step=step)
    data = path.read_bytes()
    footer = read_footer(data, len(data))
    assert footer is not None and footer.summary_start > 0
    path.write_bytes(data[: footer.summary_start])  # the data section only, as a crash leaves it
    scanned = json.loads(_info(str(path), "--json").stdout)
    assert scanned["indexed"] is False
    state = next(t for t in scanned["topics"] if t["topic"] == "/sim/state")
    assert state["sim_frequency_hz"] == pytest.approx(100.0)
    assert state["sim_first_ns"] == 0 and state["sim_last_ns"] == round((STEPS - 1) * SIM_DT * 1e9)


def test_gymnasium_log_rates_are_over_the_envs_step_time(tmp_path: Path) -> None:
    gym = pytest.importorskip("gymnasium")
    from simrec_node.integrations.gym_wrappers import RecordRollout

    env = RecordRollout(gym.make("CartPole-v1"), tmp_path / "gym.mcap")
    env.reset(seed=1)
    for _ in range(120):
        _obs, _r, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    env.close()
    text = _info(str(tmp_path / "gym.mcap")).stdout
    # CartPole steps 0.02 s (tau; metadata render_fps 50): 50 actions a second of sim time.
    assert _frequency(text, "/rollout/action") == "50.00 Hz sim", text
