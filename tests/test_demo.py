"""Tests for the demo simulation: physics, rendering, and `simrec demo --record` end to end."""

from __future__ import annotations

import io
import itertools
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from mcap.reader import make_reader
from PIL import Image

from simrec_node.demo import DemoSim
from simrec_node.demo.physics import FALL_ANGLE, RAIL_LIMIT, CartPoleBatch
from simrec_node.demo.render import Camera
from simrec_node.graph import Node, ParameterError
from simrec_node.msgs import StateBatch

from .conftest import REPO, simrec_command

DURATION_S = 3.0
ENVS = 4


# physics -----------------------------------------------------------------------------------
def run_batch(seed: int, steps: int, num_envs: int = 8) -> list:
    batch = CartPoleBatch(num_envs, dt=0.01, seed=seed)
    return [batch.step() for _ in range(steps)]


def test_physics_is_deterministic_for_a_seed() -> None:
    first, second = run_batch(7, 600), run_batch(7, 600)
    for a, b in zip(first, second, strict=True):
        for name in ("qpos", "qvel", "action", "reward", "done", "episode_step"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    other = run_batch(8, 600)
    assert not np.array_equal(first[-1].qpos, other[-1].qpos)


def test_physics_arrays_are_batched_float32() -> None:
    result = CartPoleBatch(5, seed=1).step()
    assert result.qpos.shape == (5, 2) and result.qpos.dtype == np.float32
    assert result.qvel.shape == (5, 2) and result.qvel.dtype == np.float32
    assert result.action.shape == (5, 1) and result.action.dtype == np.float32
    assert result.reward.shape == (5,) and result.reward.dtype == np.float32
    assert result.done.shape == (5,) and result.done.dtype == bool


def test_episodes_end_and_reset() -> None:
    batch = CartPoleBatch(16, dt=0.01, seed=3, max_episode_s=4.0)
    results = [batch.step() for _ in range(1000)]  # 10 s of simulated time
    assert batch.falls > 0, "some poles should fall over"
    assert batch.episodes_finished > batch.falls, "some episodes should time out"
    for before, after in itertools.pairwise(results):
        ended = before.done
        np.testing.assert_array_equal(after.episode_step[ended], 1)  # a fresh episode
        np.testing.assert_array_equal(after.episode_step[~ended], before.episode_step[~ended] + 1)
        fell = (np.abs(before.qpos[:, 1]) > FALL_ANGLE) | (np.abs(before.qpos[:, 0]) > RAIL_LIMIT)
        assert np.all(before.done[fell])
    assert max(r.episode_step.max() for r in results) == batch.max_episode_steps


@pytest.mark.parametrize("rate_hz", [10.0, 1000.0])
def test_physics_stays_stable_at_other_rates(rate_hz: float) -> None:
    batch = CartPoleBatch(16, dt=1.0 / rate_hz, seed=0)
    for _ in range(int(3 * rate_hz)):
        result = batch.step()
    assert np.all(np.isfinite(result.qpos)) and np.all(np.isfinite(result.qvel))
    assert batch.falls < batch.episodes_finished + 16 * 3  # not everything falls at once


# rendering ---------------------------------------------------------------------------------
def test_camera_renders_rgb_and_depth() -> None:
    batch = CartPoleBatch(6, seed=2)
    camera = Camera(320, 240, lanes=4)
    rgb = camera.render_rgb(batch.step().qpos, np.linspace(0, 1, 6))
    assert rgb.shape == (240, 320, 3) and rgb.dtype == np.uint8
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 50
    depth = camera.render_depth(batch.qpos)
    assert depth.shape == (240, 320) and depth.dtype == np.uint16
    assert depth.min() == 0 and depth.max() > 4000  # sky, then the floor stretching away

    moved = batch.qpos.copy()
    moved[:, 0] += 0.5
    assert not np.array_equal(camera.render_rgb(moved), camera.render_rgb(batch.qpos))
    small = Camera(64, 48).render_rgb(batch.qpos)
    assert small.shape == (48, 64, 3)


def test_camera_survives_carts_off_screen() -> None:
    qpos = np.array([[50.0, 0.0], [-50.0, 3.0], [0.0, -3.0]], np.float32)
    assert Camera(80, 60).render_rgb(qpos).shape == (60, 80, 3)
    assert Camera(80, 60).render_depth(qpos).shape == (60, 80)


# the node, in this process -----------------------------------------------------------------
def test_demo_node_publishes_under_its_namespace(domain: str) -> None:
    received = []
    with Node("listener", domain=domain) as listener:
        listener.create_subscription(StateBatch, "/robot1/sim/state", received.append)
        sim = DemoSim(
            "robot1", domain=domain, parameter_overrides={"num_envs": 3, "rate_hz": 50.0, "seed": 4}
        )
        assert sim.published().keys() >= {"/robot1/sim/state", "/clock", "/tf", "/robot1/camera/rgb"}
        sim.run(duration_s=0.5)
        deadline = time.monotonic() + 5
        while len(received) < sim.published()["/robot1/sim/state"] and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(received) == sim.published()["/robot1/sim/state"] > 5
    assert received[-1].num_envs == 3
    assert received[-1].sim_time == pytest.approx(received[-1].step / 50.0)
    assert list(received[-1].tensors["qpos"].shape) == [3, 2]


def test_demo_node_rejects_bad_parameters(domain: str) -> None:
    with pytest.raises(ParameterError, match="num_envs"):
        DemoSim(domain=domain, parameter_overrides={"num_envs": 0})
    with pytest.raises(ParameterError, match="rate_hz"):
        DemoSim(domain=domain, parameter_overrides={"rate_hz": "fast"})


# simrec demo --record ----------------------------------------------------------------------
def decoder_for(schema_name: str, schema_data: bytes):
    """A message class built only from the FileDescriptorSet stored in the MCAP file."""
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(schema_data).file:
        pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(schema_name))


def read_recording(path: Path) -> dict[str, list]:
    """topic -> decoded messages, each decoded with the schema stored in the file."""
    messages: dict[str, list] = {}
    classes = {}
    with open(path, "rb") as f:
        for schema, channel, message in make_reader(f).iter_messages():
            assert schema is not None and schema.encoding == "protobuf", channel.topic
            cls = classes.get(schema.id)
            if cls is None:
                cls = classes[schema.id] = decoder_for(schema.name, schema.data)
            messages.setdefault(channel.topic, []).append(cls.FromString(message.data))
    return messages


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list], str]:
    """One real `simrec demo --record` run, shared by the checks below."""
    domain = "t" + uuid.uuid4().hex[:12]
    output = tmp_path_factory.mktemp("demo") / "demo.mcap"
    command = simrec_command(
        "demo", "--record", str(output), "--duration", str(DURATION_S), "--envs", str(ENVS),
        "--domain", domain, "-q",
    )  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"wrote {output}" in done.stderr
    return output, read_recording(output), done.stderr


def test_demo_records_every_topic(recording) -> None:
    _, messages, _ = recording
    expected = {"/sim/state", "/clock", "/sim/reward", "/tf", "/sim/scene", "/camera/rgb", "/camera/depth"}
    assert expected <= set(messages)
    for topic, rate_hz in [("/sim/state", 100), ("/clock", 100), ("/tf", 100), ("/camera/rgb", 30)]:
        count = len(messages[topic])
        assert count > 0.2 * rate_hz * DURATION_S, f"{topic}: only {count} messages"
        assert count < 2 * rate_hz * DURATION_S, f"{topic}: {count} messages"


def test_demo_state_batches_decode(recording) -> None:
    _, messages, _ = recording
    states = messages["/sim/state"]
    assert type(states[0]).DESCRIPTOR.full_name == "simrec.StateBatch"
    steps = [s.step for s in states]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    shapes = {"qpos": [ENVS, 2], "qvel": [ENVS, 2], "action": [ENVS, 1], "reward": [ENVS], "done": [ENVS]}
    for state in states[:: max(1, len(states) // 10)]:
        assert state.num_envs == ENVS
        for name, shape in shapes.items():
            assert list(state.tensors[name].shape) == shape, name
        assert len(state.tensors["qpos"].float32_data) == ENVS * 2
        assert len(state.tensors["done"].bytes_data) == ENVS
        assert state.sim_time == pytest.approx(state.step * 0.01)
    clock = messages["/clock"][-1]
    assert clock.step > 0 and clock.clock.seconds * 10**9 + clock.clock.nanos > 0


def test_demo_images_decode(recording) -> None:
    _, messages, _ = recording
    for frame in messages["/camera/rgb"][:3] + messages["/camera/rgb"][-2:]:
        assert frame.format == "jpeg"
        image = Image.open(io.BytesIO(frame.data))
        assert image.format == "JPEG" and image.size == (320, 240) and image.mode == "RGB"
    depth = messages["/camera/depth"][-1]
    assert (depth.width, depth.height, depth.encoding) == (160, 120, "mono16")
    assert len(depth.data) == depth.step * depth.height == 160 * 2 * 120


def test_demo_scene_and_transforms_decode(recording) -> None:
    _, messages, _ = recording
    tf = messages["/tf"][-1]
    children = {t.child_frame_id for t in tf.transforms}
    assert {"camera", "env_0/cart", "env_0/pole", f"env_{ENVS - 1}/bob"} <= children
    scene = messages["/sim/scene"][-1]
    ids = {e.id for e in scene.entities}
    assert {"rails", "env_0/bob", f"env_{ENVS - 1}/cart"} <= ids
    rewards = messages["/sim/reward"][-1]
    assert {"mean_reward", "episodes_finished", "steps_per_s"} <= set(rewards.values)


def test_demo_refuses_to_overwrite(tmp_path: Path) -> None:
    existing = tmp_path / "taken.mcap"
    existing.write_bytes(b"keep me")
    done = subprocess.run(
        simrec_command("demo", "--record", str(existing), "--duration", "1", "--domain", "tunused"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "already exists" in done.stderr
    assert existing.read_bytes() == b"keep me"
