"""``DemoSim``: a node that runs the cart-pole batch in real time and publishes everything.

It exists to show recording off without a GPU simulator: one timer thread steps the batch
at ``rate_hz`` and publishes the state tensors, the clock, scalars for plots, a transform
tree and a 3D scene, and camera images at their own (lower) rates. Cameras are scheduled
on simulated time, so what a seed produces does not depend on how busy the machine is.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from simrec_node.graph import Node, ParameterError, Publisher, Timer, TypeInfo
from simrec_node.graph.parameters import ParameterValue
from simrec_node.msgs import (
    Clock,
    CompressedImage,
    FrameTransforms,
    RawImage,
    Scalars,
    SceneUpdate,
    StateBatch,
    encode_compressed_image,
    encode_raw_image,
    encode_state_batch,
)

from .physics import CartPoleBatch
from .render import Camera
from .scene import CAMERA_FRAME, SceneModel, TransformTree, frame_prefix

NODE_NAME = "demo_sim"
VIZ_ENVS = 16  # envs that get frames on /tf and objects in sim/scene
CAMERA_LANES = 4  # envs the camera shows
SCENE_RATE_HZ = 30.0  # sim/scene: its objects follow /tf, so it only refreshes colours
_SMOOTHING = 0.05  # weight of the newest sample in the running averages of sim/reward
_EPS = 1e-9  # s: float slack when comparing simulated times


class DemoSim:
    """The demo simulation node. ``start()``/``stop()``, or ``run()`` for a while.

    Parameters (override them through ``parameter_overrides``, as a launch file would):
    ``num_envs``, ``rate_hz``, ``camera_rate_hz`` (0 turns the camera off), ``depth_rate_hz``
    (0 turns the depth image off), ``camera_width``, ``camera_height`` and ``seed``.
    """

    def __init__(
        self,
        namespace: str = "/",
        *,
        name: str | None = None,
        domain: str | None = None,
        parameter_overrides: dict[str, ParameterValue] | None = None,
        remaps: dict[str, str] | None = None,
    ) -> None:
        self.node = Node(
            name or NODE_NAME,
            namespace,
            domain=domain,
            parameter_overrides=parameter_overrides,
            remaps=remaps,
        )
        try:
            self._setup()
        except BaseException:
            self.node.shutdown()
            raise

    def _setup(self) -> None:
        node = self.node
        self.num_envs = _at_least(node, "num_envs", 16, 1)
        self.rate_hz = _positive(node, "rate_hz", 100.0)
        self.camera_rate_hz = min(_at_least(node, "camera_rate_hz", 30.0, 0.0), self.rate_hz)
        self.depth_rate_hz = min(_at_least(node, "depth_rate_hz", 10.0, 0.0), self.rate_hz)
        width = _at_least(node, "camera_width", 320, 16)
        height = _at_least(node, "camera_height", 240, 16)
        self.seed = node.declare_parameter("seed", 0)
        action_scale = node.declare_parameter("action_scale", 1.0)  # settable while running
        unknown = node.parameters.undeclared_overrides()
        if unknown:
            raise ParameterError(f"{node.name} has no parameter(s) {', '.join(unknown)}")

        self.sim = CartPoleBatch(self.num_envs, dt=1.0 / self.rate_hz, seed=self.seed)
        self.sim.action_scale = action_scale
        node.add_on_set_parameters_callback(self._on_set)
        prefix = frame_prefix(node.namespace)
        self.camera_frame = prefix + CAMERA_FRAME
        self.camera = Camera(width, height, lanes=CAMERA_LANES)
        self.depth_camera = Camera(max(16, width // 2), max(16, height // 2), lanes=CAMERA_LANES)
        viz = min(self.num_envs, VIZ_ENVS)
        self._tree = TransformTree(viz, prefix)
        self._scene = SceneModel(viz, prefix)

        self.state_pub = node.create_publisher(TypeInfo.of(StateBatch), "sim/state")
        self.clock_pub = node.create_publisher(Clock, "/clock")
        self.reward_pub = node.create_publisher(Scalars, "sim/reward")
        self.tf_pub = node.create_publisher(FrameTransforms, "/tf")
        self.scene_pub = node.create_publisher(SceneUpdate, "sim/scene")
        self.rgb_pub = node.create_publisher(CompressedImage, "camera/rgb") if self.camera_rate_hz else None
        self.depth_pub = node.create_publisher(RawImage, "camera/depth") if self.depth_rate_hz else None

        self._next_camera = self._next_depth = self._next_scene = 0.0
        self._timer: Timer | None = None
        self._lock = threading.Lock()
        self._clock = Clock()
        self._scalars = Scalars()
        self._mean_return = 0.0  # running average of the returns of finished episodes
        self._returns_seen = 0
        self._tick_ms = 0.0
        self._render_ms = 0.0
        self._steps_per_s = self.rate_hz
        self._last_tick = 0.0

    def _on_set(self, changed: dict[str, ParameterValue]) -> None:
        """Parameters set while running (Foxglove's Parameters panel): only ``action_scale`` takes
        effect live; the others shape the node at start."""
        fixed = sorted(set(changed) - {"action_scale"})
        if fixed:
            raise ParameterError(f"{', '.join(fixed)} can only be set at start (-p name:=value)")
        if "action_scale" in changed:
            self.sim.action_scale = float(changed["action_scale"])

    @property
    def publishers(self) -> list[Publisher]:
        """Every publisher of this node (for counting what was sent)."""
        candidates = [self.state_pub, self.clock_pub, self.reward_pub, self.tf_pub, self.scene_pub]
        return [p for p in [*candidates, self.rgb_pub, self.depth_pub] if p is not None]

    def published(self) -> dict[str, int]:
        """Messages sent so far, per resolved topic."""
        return {p.topic: p.sequence for p in self.publishers}

    def start(self) -> None:
        """Start stepping on a timer thread at ``rate_hz``."""
        with self._lock:
            if self._timer is None:
                self._last_tick = time.monotonic()
                self._timer = self.node.create_timer(1.0 / self.rate_hz, self.tick)

    def stop(self) -> None:
        """Stop stepping (the current step finishes first) and leave the graph. Idempotent."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self.node.shutdown()

    def run(self, duration_s: float | None = None, stop: threading.Event | None = None) -> None:
        """Step until ``duration_s`` has passed or ``stop`` is set (or Ctrl-C), then stop."""
        stop = stop or threading.Event()
        self.start()
        try:
            stop.wait(duration_s)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> DemoSim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def tick(self) -> None:
        """One simulation step and everything it publishes (the timer calls this)."""
        started = time.monotonic()
        sim = self.sim
        result = sim.step()
        now = time.time_ns()
        step, sim_time = sim.step_count, sim.sim_time
        tensors = {
            "qpos": result.qpos,
            "qvel": result.qvel,
            "action": result.action,
            "reward": result.reward,
            "done": result.done,
            "episode_step": result.episode_step,
        }
        self.state_pub.publish(
            encode_state_batch(tensors, step=step, sim_time=sim_time, num_envs=sim.num_envs), stamp_ns=now
        )
        self._clock.clock.seconds, self._clock.clock.nanos = divmod(round(sim_time * 1e9), 1_000_000_000)
        self._clock.step = step
        self.clock_pub.publish(self._clock, stamp_ns=now)
        self.tf_pub.publish(self._tree.serialize(result.qpos, now), stamp_ns=now)
        if sim_time + _EPS >= self._next_scene:
            self._next_scene = max(self._next_scene + 1.0 / SCENE_RATE_HZ, sim_time)
            self.scene_pub.publish(self._scene.serialize(result.qpos, now), stamp_ns=now)
        self._publish_cameras(result.qpos, sim_time, now)
        self._publish_scalars(result.reward, step, sim_time, now)
        finished = time.monotonic()
        self._tick_ms += _SMOOTHING * ((finished - started) * 1e3 - self._tick_ms)
        interval = started - self._last_tick
        if interval > 0:
            self._steps_per_s += _SMOOTHING * (1.0 / interval - self._steps_per_s)
        self._last_tick = started

    def _publish_cameras(self, qpos: np.ndarray, sim_time: float, now: int) -> None:
        """Render and send the images due at ``sim_time`` (camera time is simulated time)."""
        if self.rgb_pub is not None and sim_time + _EPS >= self._next_camera:
            self._next_camera = max(self._next_camera + 1.0 / self.camera_rate_hz, sim_time)
            started = time.monotonic()
            progress = self.sim.episode_step / self.sim.max_episode_steps
            image = self.camera.render_rgb(qpos, progress)
            data = encode_compressed_image(image, format="jpeg", frame_id=self.camera_frame, stamp_ns=now)
            self._render_ms += _SMOOTHING * ((time.monotonic() - started) * 1e3 - self._render_ms)
            self.rgb_pub.publish(data, stamp_ns=now)
        if self.depth_pub is not None and sim_time + _EPS >= self._next_depth:
            self._next_depth = max(self._next_depth + 1.0 / self.depth_rate_hz, sim_time)
            depth = self.depth_camera.render_depth(qpos)
            data = encode_raw_image(depth, encoding="mono16", frame_id=self.camera_frame, stamp_ns=now)
            self.depth_pub.publish(data, stamp_ns=now)

    def _publish_scalars(self, reward: np.ndarray, step: int, sim_time: float, now: int) -> None:
        sim = self.sim
        for episode_return in sim.last_returns:
            if self._returns_seen == 0:
                self._mean_return = episode_return
            self._returns_seen += 1
            self._mean_return += 0.1 * (episode_return - self._mean_return)
        values = self._scalars.values
        values["mean_reward"] = float(reward.mean())
        values["min_reward"] = float(reward.min())
        values["mean_episode_return"] = self._mean_return
        values["episodes_finished"] = float(sim.episodes_finished)
        values["falls"] = float(sim.falls)
        values["steps_per_s"] = self._steps_per_s
        values["env_steps_per_s"] = self._steps_per_s * sim.num_envs
        values["tick_ms"] = self._tick_ms
        values["render_ms"] = self._render_ms
        self._scalars.step = step
        self._scalars.sim_time = sim_time
        self.reward_pub.publish(self._scalars, stamp_ns=now)


def _at_least(node: Node, name: str, default: ParameterValue, minimum: float) -> ParameterValue:
    value = node.declare_parameter(name, default)
    if value < minimum:
        raise ParameterError(f"parameter {name!r} must be at least {minimum}, got {value}")
    return value


def _positive(node: Node, name: str, default: float) -> float:
    value = node.declare_parameter(name, default)
    if value <= 0:
        raise ParameterError(f"parameter {name!r} must be positive, got {value}")
    return value
