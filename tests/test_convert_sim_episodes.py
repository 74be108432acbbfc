"""Episodes and sim time end to end: what an in-process or Gymnasium log converts to.

Real recordings (the in-process Recorder, RecordRollout on CartPole), converted by the CLI
in-process and read back with numpy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import simrec_node
from simrec_node import Recorder
from simrec_node.cli.main import main


def _convert(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(["convert", *map(str, args), "-q"])
    out, err = capsys.readouterr()
    return code, out, err


def _groups(z: np.lib.npyio.NpzFile, key: str) -> list[int]:
    """Rows of ``key`` in each episode_<k>/ group, in group order."""
    found = sorted(k for k in z.files if k.startswith("episode_") and k.endswith(key))
    return [len(z[k]) for k in found]


LENGTHS = [18, 14, 12, 9]


def _readme_log(path: Path) -> Path:
    """The README's loop: state and reward at 100 Hz sim time, episode_end with no step or time."""
    t, step = 0.0, 0
    with Recorder(path) as rec:
        for episode, length in enumerate(LENGTHS):
            ret = 0.0
            for _ in range(length):
                rec.log("sim/state", {"qpos": np.full(2, step, np.float32)}, sim_time=t, step=step)
                rec.log("sim/reward", {"reward": 1.0}, sim_time=t, step=step)
                ret += 1.0
                t += 0.01
                step += 1
            rec.episode_end(env_index=0, return_=ret, success=episode % 2 == 0)
    return path


def test_readme_episode_end_splits_into_one_group_per_episode(tmp_path, capsys):
    log = _readme_log(tmp_path / "readme.mcap")
    for topics in (["-t", "/sim/state"], ["-t", "/sim/reward"], []):
        out = tmp_path / f"split{len(topics)}_{topics[-1].replace('/', '_') if topics else 'all'}.npz"
        code, _, err = _convert(capsys, log, "-o", out, "--split-episodes", *topics)
        assert code == 0, err
        with np.load(out) as z:
            meta = json.loads(str(z["__meta__"]))
            assert meta["time_axis"] == "sim"
            if topics != ["-t", "/sim/reward"]:
                assert _groups(z, "/sim/state/step") == LENGTHS
            if topics != ["-t", "/sim/state"]:
                assert _groups(z, "/sim/reward/values.reward") == LENGTHS
            assert meta["episodes"]["count"] == len(LENGTHS)
    # on receive time too: the episode is logged after its last step's messages
    out = tmp_path / "split_log.npz"
    code, _, err = _convert(capsys, log, "-o", out, "--split-episodes", "-t", "/sim/state", "--time", "log")
    assert code == 0, err
    with np.load(out) as z:
        assert json.loads(str(z["__meta__"]))["time_axis"] == "log"
        assert _groups(z, "/sim/state/step") == LENGTHS


def test_rollout_log_splits_at_recorded_episode_ends(tmp_path, capsys):
    gym = pytest.importorskip("gymnasium")
    from simrec_node.integrations import RecordRollout

    path = tmp_path / "cartpole.mcap"
    env = RecordRollout(gym.make("CartPole-v1"), path)
    rng = np.random.default_rng(5)
    lengths = []
    for episode in range(6):
        env.reset(seed=40 + episode)
        done, n = False, 0
        while not done:
            _, _, terminated, truncated, _ = env.step(int(rng.integers(2)))
            done, n = terminated or truncated, n + 1
        lengths.append(n)
    env.close()
    for topics in (["-t", "/rollout/step"], ["-t", "/rollout/action"], []):
        out = tmp_path / f"rollout{len(topics)}{topics[-1].replace('/', '_') if topics else ''}.npz"
        code, _, err = _convert(capsys, path, "-o", out, "--split-episodes", *topics)
        assert code == 0, err
        with np.load(out) as z:
            if topics != ["-t", "/rollout/action"]:
                assert _groups(z, "/rollout/step/values.reward") == lengths
            if topics != ["-t", "/rollout/step"]:
                assert _groups(z, "/rollout/action/data") == lengths
            if not topics:  # each episode's observations: its reset's, then one per step
                assert _groups(z, "/rollout/obs/data") == [n + 1 for n in lengths]
                np.testing.assert_array_equal(
                    [z[f"episode_{k:03d}/episodes/episode_index"][0] for k in range(6)], range(6)
                )


def test_npz_and_to_numpy_keep_the_recorded_episode_index(tmp_path, capsys):
    path = tmp_path / "envs.mcap"
    with Recorder(path) as rec:  # two envs: recorded episode_index [0, 0, 1, 2, 1]
        for step, env_index in enumerate([0, 1, 0, 0, 1]):
            rec.log("sim/state", {"done": True, "x": float(step)}, sim_time=step * 0.1, step=step)
            rec.episode_end(env_index=env_index, return_=1.0)
    out = tmp_path / "envs.npz"
    code, _, err = _convert(capsys, path, "-o", out)
    assert code == 0, err
    log = simrec_node.open(path)
    with np.load(out) as z:
        np.testing.assert_array_equal(z["/episodes/episode_index"], [0, 0, 1, 2, 1])
        np.testing.assert_array_equal(z["/sim/state/episode_index"], [0, 1, 2, 3, 4])
        for topic in ("/episodes", "/sim/state"):
            arrays = log.to_numpy(topic)
            npz_keys = {k[len(topic) + 1 :] for k in z.files if k.startswith(topic + "/")}
            assert set(arrays) == npz_keys
            for key, value in arrays.items():
                np.testing.assert_array_equal(value, z[f"{topic}/{key}"])
    log.close()


def _sim_log(path: Path) -> Path:
    """2 s of sim time at 100 Hz, logged in one wall-clock burst (milliseconds)."""
    with Recorder(path) as rec:
        for step in range(201):
            rec.log("sim/state", {"x": float(step)}, sim_time=step * 0.01, step=step)
    return path


def test_time_axis_is_sim_time_where_topics_carry_it(tmp_path, capsys):
    log = _sim_log(tmp_path / "sim.mcap")
    out = tmp_path / "hz.npz"
    code, _, err = _convert(capsys, log, "-o", out, "--hz", "50")
    assert code == 0, err
    with np.load(out) as z:
        meta = json.loads(str(z["__meta__"]))
        assert meta["time_axis"] == "sim" and meta["align"]["time_axis"] == "sim"
        assert len(z["time"]) == 101  # 0 .. 2 s at 50 Hz
        np.testing.assert_array_equal(z["/sim/state/step"], np.arange(0, 201, 2))
    out = tmp_path / "window.npz"
    code, _, err = _convert(capsys, log, "-o", out, "--start", "1", "--end", "2")
    assert code == 0, err
    with np.load(out) as z:
        np.testing.assert_array_equal(z["/sim/state/step"], np.arange(100, 201))
    # receive time on request: the whole log arrived within a second, so 1..2 s holds nothing
    code, _, err = _convert(capsys, log, "-o", tmp_path / "log.npz", "--start", "1", "--time", "log")
    assert err.startswith("simrec: error: --start 1 is past the end") and len(err.splitlines()) == 1
    assert code == 2
    code, _, err = _convert(capsys, log, "-o", tmp_path / "late.npz", "--start", "3")
    assert code == 2 and "2.000 s of sim time long" in err and len(err.splitlines()) == 1
    code, _, err = _convert(capsys, log, "-o", tmp_path / "gap.npz", "--start", "1.001", "--end", "1.009")
    assert code == 2 and "between --start and --end" in err and len(err.splitlines()) == 1


def test_time_sim_refused_where_topics_carry_wall_time(tmp_path, capsys):
    path = tmp_path / "wall.mcap"
    with Recorder(path) as rec:
        for step in range(5):
            rec.log("sim/state", {"x": float(step)}, step=step)
    code, _, err = _convert(capsys, path, "-o", tmp_path / "a.npz", "--time", "sim")
    assert code == 2 and "use --time log" in err
    code, _, err = _convert(capsys, path, "-o", tmp_path / "b.npz")
    assert code == 0, err
    with np.load(tmp_path / "b.npz") as z:
        assert json.loads(str(z["__meta__"]))["time_axis"] == "log"
