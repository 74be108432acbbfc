"""Genesis' recording calls on the Recorder, and short NPZ keys (convert --keys short, to_numpy)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import numpy as np
import pytest

from simrec_node import Recorder
from simrec_node.convert import ConvertError, NpzOptions, convert_to_npz, open_log
from simrec_node.integrations import RecordingCallError
from tests.conftest import REPO, simrec_command

DT = 0.01


class Robot:
    """A stand-in for a Genesis entity: state that changes at every scene.step()."""

    def __init__(self) -> None:
        self.qpos = np.zeros(3, np.float32)
        self.history: list[np.ndarray] = []

    def step(self, k: int) -> None:
        self.qpos = (self.qpos + np.float32(0.1) * np.float32(k % 3)).astype(np.float32)
        self.history.append(self.qpos.copy())

    def get_pos(self) -> np.ndarray:
        return self.qpos[:2].copy()

    def get_qpos(self) -> np.ndarray:
        return self.qpos.copy()


@dataclass
class NPZFile:
    """The fields of Genesis' ``gs.recorders.NPZFile`` that the seed passes."""

    filepath: str
    hz: float | None = None


def test_start_and_stop_recording_sample_at_hz_by_dt(tmp_path):
    robot = Robot()

    def get_robot_state():
        return {"position": robot.get_pos(), "joint_positions": robot.get_qpos()}

    rec = Recorder(tmp_path / "run.mcap", dt=DT)
    topic = rec.start_recording(get_robot_state, hz=25)  # every 4th step of 0.01 s
    assert topic == "/get_robot_state"
    qpos_topic = rec.start_recording(
        data_func=lambda: robot.get_qpos(), rec_options=NPZFile(filepath=str(tmp_path / "qpos.npz"), hz=50)
    )
    assert qpos_topic == "/recording_1"
    for k in range(100):
        robot.step(k)
        rec.step()  # no sim_time: the Recorder's dt is the clock
    files = rec.stop_recording(save_to=tmp_path / "robot.npz")
    assert rec.closed
    assert files == [tmp_path / "run.mcap", tmp_path / "qpos.npz", tmp_path / "robot.npz"]

    want = np.stack(robot.history)
    with np.load(tmp_path / "robot.npz") as arrays:
        # 25 Hz of a 0.01 s clock: steps 0, 4, 8, ... (Genesis: every round(1 / (hz * dt)) steps)
        np.testing.assert_array_equal(arrays["get_robot_state/joint_positions"], want[::4])
        np.testing.assert_array_equal(arrays["get_robot_state/position"], want[::4, :2])
        np.testing.assert_array_equal(arrays["get_robot_state/step"], np.arange(0, 100, 4))
        np.testing.assert_array_equal(
            arrays["get_robot_state/publish_time"], np.round(np.arange(0, 100, 4) * DT * 1e9)
        )
        np.testing.assert_array_equal(arrays["recording_1"], want[::2])  # a tensor topic's data
    with np.load(tmp_path / "qpos.npz") as arrays:  # the rec_options file: its own topic only
        assert {k for k in arrays if not k.startswith("__")} == {
            "recording_1",
            "recording_1/log_time",
            "recording_1/publish_time",
        }
        np.testing.assert_array_equal(arrays["recording_1"], want[::2])


def test_async_mode_false_writes_before_step_returns(tmp_path):
    with Recorder(tmp_path / "sync.mcap", dt=DT) as rec:
        rec.start_recording(lambda: np.arange(4.0), topic="state", async_mode=False)
        for k in range(5):
            rec.step()
            assert rec.stats.topic("/state").written == k + 1


def test_genesis_calls_refuse_what_they_cannot_do(tmp_path):
    rec = Recorder(tmp_path / "bad.mcap", dt=DT)
    with pytest.raises(RecordingCallError, match="needs a data_func"):
        rec.start_recording()
    with pytest.raises(RecordingCallError, match=r"\.npz.*\.mp4"):
        rec.start_recording(lambda: 1.0, rec_options=NPZFile(filepath="data.csv"))
    rec.start_recording(lambda: 1.0, topic="x")
    rec.step()
    with pytest.raises(RecordingCallError, match=r"save_to 'out\.h5'"):
        rec.stop_recording(save_to="out.h5")
    assert not rec.closed  # refused before closing: the recording goes on
    rec.stop_recording()
    assert rec.closed


def _state_log(path, extra_tensor: str | None = None):
    with Recorder(path, dt=DT) as rec:
        for k in range(6):
            state = {"position": np.full((2, 3), k, np.float32), "velocity": np.ones((2, 3)) * k}
            if extra_tensor:
                state[extra_tensor] = np.zeros(2)
            rec.log("/robot/state", state, step=k, sim_time=k * DT)
            rec.log("/sim/reward", np.array([k, -k], np.float32), step=k, sim_time=k * DT)
            rec.log("/sim/stats", {"mean": float(k)}, step=k, sim_time=k * DT)


def test_short_keys_in_npz_and_to_numpy(tmp_path):
    log = tmp_path / "state.mcap"
    _state_log(log)
    full = convert_to_npz(open_log(log), tmp_path / "full.npz").arrays
    short = convert_to_npz(open_log(log), tmp_path / "short.npz", NpzOptions(keys="short")).arrays
    renamed = {
        "/robot/state/tensors.position": "robot/state/position",
        "/robot/state/tensors.velocity": "robot/state/velocity",
        "/robot/state/step": "robot/state/step",
        "/robot/state/log_time": "robot/state/log_time",
        "/sim/reward/data": "sim/reward",
        "/sim/stats/values.mean": "sim/stats/mean",
    }
    for old, new in renamed.items():
        np.testing.assert_array_equal(short[new], full[old])
    assert len(short) == len(full)
    assert short["robot/state/position"].shape == (6, 2, 3)
    with np.load(tmp_path / "short.npz") as arrays:
        assert '"keys": "short"' in str(arrays["__meta__"])
        np.testing.assert_array_equal(arrays["sim/reward"], full["/sim/reward/data"])

    with open_log(log) as reader:
        arrays = reader.to_numpy("/robot/state", keys="short")
        assert set(arrays) == {k for k in short if k.startswith("robot/state/")}
        np.testing.assert_array_equal(arrays["robot/state/velocity"], short["robot/state/velocity"])
        assert "tensors.position" in reader.to_numpy("/robot/state")  # the default is unchanged
        np.testing.assert_array_equal(
            reader.to_numpy("/sim/reward", keys="short")["sim/reward"], full["/sim/reward/data"]
        )

    done = subprocess.run(
        simrec_command("convert", str(log), "-o", str(tmp_path / "cli.npz"), "--keys", "short", "-q"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with np.load(tmp_path / "cli.npz") as arrays:
        assert set(arrays) == set(short) | {"__meta__"}


def test_short_keys_that_collide_are_an_error_naming_both(tmp_path):
    log = tmp_path / "clash.mcap"
    _state_log(log, extra_tensor="step")  # StateBatch tensor "step" vs the StateBatch's own step
    with pytest.raises(
        ConvertError, match=r"/robot/state/step and /robot/state/tensors\.step both become 'robot/state/step'"
    ):
        convert_to_npz(open_log(log), tmp_path / "x.npz", NpzOptions(keys="short"))
    assert not (tmp_path / "x.npz").exists()
    with open_log(log) as reader, pytest.raises(ConvertError, match="collide"):
        reader.to_numpy("/robot/state", keys="short")
    done = subprocess.run(
        simrec_command("convert", str(log), "-o", str(tmp_path / "y.npz"), "--keys", "short"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "collide" in done.stderr, done.stderr
    np.testing.assert_array_equal(
        convert_to_npz(open_log(log), tmp_path / "z.npz").arrays["/robot/state/tensors.step"],
        np.zeros((6, 2)),
    )


def test_stop_recording_saves_camera_frames_as_mp4(tmp_path):
    import imageio_ffmpeg

    frames = iter(range(1000))

    def render():  # a camera's render(): a new uint8 frame at every call
        frame = np.zeros((32, 48, 3), np.uint8)
        frame[:, :, 1] = next(frames) * 8 % 256
        return frame

    rec = Recorder(tmp_path / "cam.mcap", dt=1 / 60, image_format="png")
    assert rec.start_recording(render, topic="camera/rgb", hz=30, image=True) == "/camera/rgb"
    for _ in range(60):
        rec.step()
    files = rec.stop_recording(save_to=tmp_path / "cam.mp4")
    assert files[-1] == tmp_path / "cam.mp4"
    count, seconds = imageio_ffmpeg.count_frames_and_secs(str(tmp_path / "cam.mp4"))
    assert count == 30 and seconds == pytest.approx(1.0, abs=0.05)  # 1 s of sim time at 30 Hz
