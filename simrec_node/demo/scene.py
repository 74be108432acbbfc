"""The demo's 3D view for Foxglove: a transform tree per env and frame-locked primitives.

Every shown env gets ``env_<i>/cart`` (on its rail, ``y = i * LANE_SPACING``), ``env_<i>/pole``
(hinged on the cart, turned by the pole angle about y) and ``env_<i>/bob`` (the pole tip).
The scene's cubes, lines and spheres sit in those frames with ``frame_locked`` set, so the
3D panel moves them with ``/tf`` at the full simulation rate while ``sim/scene`` itself can
be sent less often. Messages are built once and only their numbers are updated per tick,
which keeps the per-step cost small.
"""

from __future__ import annotations

import math

import numpy as np

from simrec_node.msgs import FrameTransforms, SceneUpdate

from .physics import FALL_ANGLE, PIVOT_HEIGHT, POLE_HALF_LENGTH, RAIL_LIMIT
from .render import BOB_RADIUS, CAMERA_DISTANCE, CAMERA_HEIGHT, CART_SIZE, LANE_SPACING, env_color

WORLD_FRAME = "world"
CAMERA_FRAME = "camera"
_FALLEN_COLOR = (0.95, 0.15, 0.1)


def frame_prefix(namespace: str) -> str:
    """Frame ids carry the node's namespace, so two demos in one graph do not clash."""
    stripped = namespace.strip("/")
    return stripped + "/" if stripped else ""


def _set_stamp(timestamp, stamp_ns: int) -> None:
    timestamp.seconds, timestamp.nanos = divmod(stamp_ns, 1_000_000_000)


class TransformTree:
    """``FrameTransforms`` for the first ``count`` envs plus the camera, updated in place."""

    def __init__(self, count: int, prefix: str = "") -> None:
        self.count = count
        self.prefix = prefix
        self.message = FrameTransforms()
        camera = self.message.transforms.add(
            parent_frame_id=WORLD_FRAME, child_frame_id=prefix + CAMERA_FRAME
        )
        camera.translation.y, camera.translation.z = -CAMERA_DISTANCE, CAMERA_HEIGHT
        # Optical frame (x right, y down, z forward) looking along world +y.
        half = math.sqrt(0.5)
        camera.rotation.x, camera.rotation.w = -half, half
        self._carts, self._poles = [], []
        for i in range(count):
            env = f"{prefix}env_{i}"
            cart = self.message.transforms.add(parent_frame_id=WORLD_FRAME, child_frame_id=f"{env}/cart")
            cart.translation.y = i * LANE_SPACING
            cart.rotation.w = 1.0
            pole = self.message.transforms.add(parent_frame_id=f"{env}/cart", child_frame_id=f"{env}/pole")
            pole.translation.z = PIVOT_HEIGHT
            bob = self.message.transforms.add(parent_frame_id=f"{env}/pole", child_frame_id=f"{env}/bob")
            bob.translation.z = 2 * POLE_HALF_LENGTH
            bob.rotation.w = 1.0
            self._carts.append(cart)
            self._poles.append(pole)

    def serialize(self, qpos: np.ndarray, stamp_ns: int) -> bytes:
        """The tree for ``qpos`` ``[N, 2]`` (cart x, pole angle), stamped ``stamp_ns``."""
        for transform in self.message.transforms:
            _set_stamp(transform.timestamp, stamp_ns)
        x = qpos[: self.count, 0].tolist()
        half_angle = (qpos[: self.count, 1] * 0.5).tolist()
        for cart, pole, xi, a in zip(self._carts, self._poles, x, half_angle, strict=True):
            cart.translation.x = xi
            pole.rotation.y, pole.rotation.w = math.sin(a), math.cos(a)
        return self.message.SerializeToString()


class SceneModel:
    """``SceneUpdate`` of rails (world frame), carts, poles and bobs (env frames)."""

    def __init__(self, count: int, prefix: str = "") -> None:
        self.count = count
        self.message = SceneUpdate()
        rails = self.message.entities.add(frame_id=WORLD_FRAME, id=f"{prefix}rails")
        line = rails.lines.add(type=2, thickness=0.02)  # LINE_LIST
        line.pose.orientation.w = 1.0
        line.color.r = line.color.g = line.color.b = 0.3
        line.color.a = 1.0
        for i in range(count):
            for x in (-RAIL_LIMIT, RAIL_LIMIT):
                line.points.add(x=x, y=i * LANE_SPACING)
        self._bob_colors = []
        for i in range(count):
            env = f"{prefix}env_{i}"
            r, g, b = env_color(i)
            cart = self.message.entities.add(frame_id=f"{env}/cart", id=f"{env}/cart", frame_locked=True)
            cube = cart.cubes.add()
            cube.pose.position.z = CART_SIZE[1] / 2
            cube.pose.orientation.w = 1.0
            cube.size.x, cube.size.y, cube.size.z = CART_SIZE[0], 0.3, CART_SIZE[1]
            cube.color.r, cube.color.g, cube.color.b, cube.color.a = r * 0.6, g * 0.6, b * 0.6, 1.0
            pole = self.message.entities.add(frame_id=f"{env}/pole", id=f"{env}/pole", frame_locked=True)
            stick = pole.lines.add(type=0, thickness=0.04)  # LINE_STRIP
            stick.pose.orientation.w = 1.0
            stick.points.add()
            stick.points.add(z=2 * POLE_HALF_LENGTH)
            stick.color.r = stick.color.g = stick.color.b = 0.92
            stick.color.a = 1.0
            bob = self.message.entities.add(frame_id=f"{env}/bob", id=f"{env}/bob", frame_locked=True)
            sphere = bob.spheres.add()
            sphere.pose.orientation.w = 1.0
            sphere.size.x = sphere.size.y = sphere.size.z = 2 * BOB_RADIUS
            sphere.color.a = 1.0
            self._bob_colors.append((sphere.color, (r, g, b)))

    def serialize(self, qpos: np.ndarray, stamp_ns: int) -> bytes:
        """The scene stamped ``stamp_ns``; a bob reddens as its pole nears falling over."""
        for entity in self.message.entities:
            _set_stamp(entity.timestamp, stamp_ns)
        danger = np.clip(np.abs(qpos[: self.count, 1]) / FALL_ANGLE, 0.0, 1.0) ** 2
        for (color, base), t in zip(self._bob_colors, danger.tolist(), strict=True):
            color.r, color.g, color.b = (c + (f - c) * t for c, f in zip(base, _FALLEN_COLOR, strict=True))
        return self.message.SerializeToString()
