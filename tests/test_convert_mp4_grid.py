"""`simrec convert ... -o X.mp4` of a jittery 30 Hz camera: one video frame per image message,
repeats and drops only where frames are really missing or doubled. Through the real CLI."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from simrec_node.msgs import encode_raw_image
from tests.conftest import REPO, simrec_command
from tests.convert_logs import T0, write_log

PERIOD_NS = 33_333_333  # 30 Hz
COUNT = 300


def _image(i: int) -> bytes:
    return encode_raw_image(np.full((16, 16, 3), i % 256, dtype=np.uint8), encoding="rgb8")


def _camera_log(path: Path, times: list[int]) -> Path:
    messages = [("/camera/rgb", "foxglove.RawImage", t, _image(i)) for i, t in enumerate(times)]
    return write_log(path, messages)


def _jittered(count: int = COUNT, seed: int = 7) -> list[int]:
    """A 30 Hz camera published on a 100 Hz sim's steps (0, 40, 70, 100 ms: up to +6.7 ms) and
    received with up to +-8 ms of arrival jitter: under half a frame in all, never ordered wrong."""
    rng = np.random.default_rng(seed)
    steps = [round(i * PERIOD_NS / 10_000_000 + 0.4999) * 10_000_000 for i in range(count)]
    return [T0 + s + int(rng.uniform(-8e6, 8e6)) for s in steps]


def _convert(log: Path, out: Path) -> str:
    done = subprocess.run(
        simrec_command("convert", str(log), "-o", str(out)),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _video_frames(path: Path) -> list[int]:
    """Each video frame's grey level, i.e. the index (mod 256) of the image message it shows."""
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    return [
        round(float(np.frombuffer(f, dtype=np.uint8).reshape(height, width, 3)[4:12, 4:12].mean()))
        for f in reader
    ]


def test_jittery_camera_is_one_video_frame_per_message(tmp_path: Path) -> None:
    times = _jittered()
    assert max(abs(t - T0 - i * PERIOD_NS) for i, t in enumerate(times)) < PERIOD_NS / 2
    out = _convert(_camera_log(tmp_path / "cam.mcap", times), tmp_path / "cam.mp4")
    assert f"{COUNT} frames 16x16 at 30 fps from {COUNT} /camera/rgb frames" in out, out
    assert "repeated" not in out and "dropped" not in out, out
    shown = _video_frames(tmp_path / "cam.mp4")
    assert len(shown) == COUNT
    assert all(abs(got - i % 256) <= 3 for i, got in enumerate(shown)), shown  # H.264 rounding


def test_really_missing_and_doubled_frames_are_the_only_repeats_and_drops(tmp_path: Path) -> None:
    times = _jittered()
    del times[150]  # a frame lost: the one before it shows twice
    times.insert(200, times[199] + 2_000_000)  # a frame doubled: two in one slot, one dropped
    out = _convert(_camera_log(tmp_path / "gaps.mcap", times), tmp_path / "gaps.mp4")
    match = re.search(r"(\d+) frames 16x16 at 30 fps from (\d+) /camera/rgb frames \((.*)\)", out)
    assert match, out
    assert match.group(1) == str(COUNT) and match.group(2) == str(COUNT)
    assert match.group(3) == "1 repeated, 1 dropped", out


def test_in_process_camera_is_timed_by_its_sim_time(tmp_path: Path) -> None:
    from simrec_node.integrations import Recorder

    path = tmp_path / "inproc.mcap"
    with Recorder(path, image_format="png") as rec:  # a burst of wall time: all frames in ~0.1 s
        for i in range(90):
            rec.log_image("/camera/rgb", np.full((16, 16, 3), i, dtype=np.uint8), sim_time=i / 30)
    out = _convert(path, tmp_path / "sim.mp4")
    assert "90 frames 16x16 at 30 fps from 90 /camera/rgb frames (timed by sim time)" in out, out
    assert "repeated" not in out and "dropped" not in out, out
    shown = _video_frames(tmp_path / "sim.mp4")
    assert all(abs(got - i) <= 3 for i, got in enumerate(shown)), shown


def test_gymnasium_frames_come_out_at_the_envs_rate(tmp_path: Path) -> None:
    gym = pytest.importorskip("gymnasium")
    pytest.importorskip("pygame")
    from simrec_node.integrations.gym_wrappers import RecordRollout

    env = RecordRollout(
        gym.make("CartPole-v1", render_mode="rgb_array"),
        tmp_path / "cart.mcap",
        step_trigger=lambda s: s == 0,
    )
    env.reset(seed=3)
    for _ in range(40):
        _obs, _r, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    env.close()
    out = _convert(tmp_path / "cart.mcap", tmp_path / "cart.mp4")
    match = re.search(
        r"(\d+) frames 600x400 at 50 fps from (\d+) /camera/rl_video frames \(timed by sim", out
    )
    assert match and match.group(1) == match.group(2), out
    assert "repeated" not in out and "dropped" not in out, out
