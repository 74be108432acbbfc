"""A pinhole camera that draws the first few cart-poles with numpy alone (no GPU, no GL).

The camera stands in front of the rails looking down the row of envs (env ``k`` lies in the
plane ``y = k * LANE_SPACING``, as in the 3D scene), so nearer envs look bigger. The static
part (sky, floor grid, rails) is drawn once per camera; a frame only blends a few small
anti-aliased primitives over a copy of it, which keeps a 320x240 frame well under a
millisecond. ``render_depth`` draws the same scene as a mono16 depth image in millimetres.
"""

from __future__ import annotations

import numpy as np

from .physics import PIVOT_HEIGHT, RAIL_LIMIT, bob_positions

LANE_SPACING = 1.0  # m between envs along y (shared with the 3D scene)
CAMERA_DISTANCE = 4.0  # m from the camera to env 0's rail
CAMERA_HEIGHT = 0.9  # m
HALF_VIEW = 2.7  # m of env 0's rail visible either side of the centre
CART_SIZE = (0.5, 0.25)  # m: width, height
BOB_RADIUS = 0.09  # m
POLE_RADIUS = 0.025  # m
PALETTE = np.array(
    [
        (230, 90, 60),
        (60, 150, 230),
        (90, 190, 90),
        (240, 180, 40),
        (170, 100, 220),
        (40, 190, 190),
        (230, 110, 170),
        (150, 150, 150),
    ],
    np.float32,
)


def env_color(index: int) -> tuple[float, float, float]:
    """The env's colour in 0..1 RGB, the same in the camera and the 3D scene."""
    r, g, b = PALETTE[index % len(PALETTE)] / 255.0
    return float(r), float(g), float(b)


class Camera:
    """Renders ``qpos`` ``[N, 2]`` (cart x, pole angle) of the first ``lanes`` envs.

    ``render_rgb`` returns ``[height, width, 3]`` uint8, ``render_depth`` ``[height, width]``
    uint16 millimetres along the optical axis (0 where nothing is hit: the sky).
    """

    def __init__(self, width: int = 320, height: int = 240, *, lanes: int = 4) -> None:
        if width < 16 or height < 16:
            raise ValueError(f"camera image must be at least 16x16, got {width}x{height}")
        self.width, self.height, self.lanes = width, height, lanes
        self.focal = (width / 2) * CAMERA_DISTANCE / HALF_VIEW
        self.cx, self.cy = width / 2, height * 0.42
        self._rgb_background, self._depth_background = self._background()

    def project(self, x: np.ndarray, lane: int, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Image (u, v) of world points (x, lane's y, z), and their depth in metres."""
        depth = CAMERA_DISTANCE + lane * LANE_SPACING
        scale = self.focal / depth
        return self.cx + scale * np.asarray(x), self.cy - scale * (np.asarray(z) - CAMERA_HEIGHT), depth

    def render_rgb(self, qpos: np.ndarray, progress: np.ndarray | None = None) -> np.ndarray:
        """One colour frame; ``progress`` (0..1 per env) draws episode bars along the top."""
        image = self._rgb_background.copy()
        self._draw(qpos, image, None)
        if progress is not None:
            self._draw_progress(image, progress)
        return image

    def render_depth(self, qpos: np.ndarray) -> np.ndarray:
        """One depth frame, millimetres, uint16."""
        depth = self._depth_background.copy()
        self._draw(qpos, None, depth)
        return depth

    # drawing ----------------------------------------------------------------------------
    def _draw(self, qpos: np.ndarray, rgb: np.ndarray | None, depth: np.ndarray | None) -> None:
        lanes = min(self.lanes, len(qpos))
        bobs = bob_positions(qpos[:lanes])
        for lane in reversed(range(lanes)):  # far to near: the painter's algorithm
            color = PALETTE[lane % len(PALETTE)]
            x = float(qpos[lane, 0])
            (u0, u1), (v0, v1), d = self.project(
                np.array([x - CART_SIZE[0] / 2, x + CART_SIZE[0] / 2]), lane, np.array([CART_SIZE[1], 0.0])
            )
            scale = self.focal / d
            mm = min(int(d * 1000), 65535)
            self._rect(rgb, depth, u0, v0, u1, v1, color * 0.6, mm)
            (pu, bu), (pv, bv), _ = self.project(
                np.array([x, bobs[lane, 0]]), lane, [PIVOT_HEIGHT, bobs[lane, 1]]
            )
            self._capsule(rgb, depth, pu, pv, bu, bv, POLE_RADIUS * scale + 0.5, (235, 235, 235), mm)
            self._capsule(rgb, depth, bu, bv, bu, bv, BOB_RADIUS * scale, color, mm)

    def _rect(self, rgb, depth, u0: float, v0: float, u1: float, v1: float, color, mm: int) -> None:
        r0, r1 = max(0, round(v0)), min(self.height, round(v1))
        c0, c1 = max(0, round(u0)), min(self.width, round(u1))
        if r0 >= r1 or c0 >= c1:
            return
        if rgb is not None:
            rgb[r0:r1, c0:c1] = color
        if depth is not None:
            depth[r0:r1, c0:c1] = mm

    def _capsule(self, rgb, depth, u0: float, v0: float, u1: float, v1: float, radius: float, color, mm):
        """An anti-aliased thick segment with round ends (a disc when both ends coincide)."""
        pad = radius + 1
        c0, c1 = max(0, int(min(u0, u1) - pad)), min(self.width, int(max(u0, u1) + pad) + 1)
        r0, r1 = max(0, int(min(v0, v1) - pad)), min(self.height, int(max(v0, v1) + pad) + 1)
        if r0 >= r1 or c0 >= c1:
            return
        uu = np.arange(c0, c1, dtype=np.float32)[None, :] + 0.5 - u0
        vv = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5 - v0
        du, dv = u1 - u0, v1 - v0
        length2 = du * du + dv * dv
        t = np.clip((uu * du + vv * dv) / length2, 0.0, 1.0) if length2 > 1e-9 else np.float32(0)
        distance = np.hypot(uu - t * du, vv - t * dv)
        alpha = np.clip(radius + 0.5 - distance, 0.0, 1.0)
        if rgb is not None:
            box = rgb[r0:r1, c0:c1]
            a = alpha[..., None]
            box[...] = (box * (1 - a) + np.asarray(color, np.float32) * a).astype(np.uint8)
        if depth is not None:
            depth[r0:r1, c0:c1][alpha > 0.5] = mm

    def _draw_progress(self, image: np.ndarray, progress: np.ndarray) -> None:
        bars = min(len(progress), len(PALETTE))
        bar_h = max(2, self.height // 60)
        for i in range(bars):
            top = 2 + i * (bar_h + 1)
            length = int(np.clip(progress[i], 0.0, 1.0) * (self.width // 3))
            image[top : top + bar_h, 2 : 2 + self.width // 3] = (40, 40, 50)
            image[top : top + bar_h, 2 : 2 + length] = PALETTE[i]

    def _background(self) -> tuple[np.ndarray, np.ndarray]:
        """Sky, a floor with a 1 m grid and the rails, in colour and in depth: drawn once."""
        h, w = self.height, self.width
        v = np.arange(h, dtype=np.float32)[:, None] + 0.5
        u = np.arange(w, dtype=np.float32)[None, :] + 0.5
        below = np.maximum(v - self.cy, 1e-3)
        floor = v > self.cy + 0.5
        distance = np.where(floor, self.focal * CAMERA_HEIGHT / below, 1e6)  # along the axis
        distance = np.broadcast_to(distance, (h, w))
        world_x = (u - self.cx) * distance / self.focal
        world_y = distance - CAMERA_DISTANCE
        footprint = distance / self.focal  # metres one pixel covers on the floor
        line = np.minimum(np.abs(world_x - np.round(world_x)), np.abs(world_y - np.round(world_y)))
        grid = np.clip(1.5 - line / np.maximum(footprint, 1e-6), 0.0, 1.0) * np.clip(3 / distance, 0, 1)
        sky_t = np.clip(v / max(self.cy, 1), 0.0, 1.0)
        sky = (1 - sky_t)[..., None] * np.array([70, 110, 170]) + sky_t[..., None] * np.array([175, 200, 225])
        fog = np.clip(distance / 40.0, 0.0, 1.0)[..., None]
        ground = np.array([95, 100, 90]) * (1 - fog) + np.array([175, 200, 225]) * fog
        ground = ground + grid[..., None] * np.array([60, 60, 60])
        rgb = np.where(floor[..., None], ground, sky)
        depth = np.where(floor, np.minimum(distance * 1000, 65535), 0).astype(np.uint16)
        rgb = np.clip(rgb, 0, 255).astype(np.uint8)
        for lane in range(self.lanes):
            (u0, u1), (v0, _), d = self.project(np.array([-RAIL_LIMIT, RAIL_LIMIT]), lane, [0.0, 0.0])
            thickness = max(1.0, 0.03 * self.focal / d)
            self._capsule(rgb, depth, u0, v0, u1, v0, thickness, (60, 60, 65), int(d * 1000))
        return rgb, depth
