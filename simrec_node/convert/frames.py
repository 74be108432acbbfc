"""Camera messages to RGB frames for video: colour order, alpha, depth colormap, sizes, overlay."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from simrec_node.msgs import decode_image, foxglove_message_class


def _turbo_lut() -> np.ndarray:
    """Google's Turbo colormap (polynomial approximation) as a 256x3 uint8 table."""
    x = np.linspace(0.0, 1.0, 256)
    powers = np.stack([np.ones_like(x), x, x**2, x**3, x**4, x**5])
    coefficients = np.array(
        [
            [0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943],
            [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604],
            [0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973],
        ]
    )
    return (np.clip(coefficients @ powers, 0.0, 1.0).T * 255 + 0.5).astype(np.uint8)


TURBO = _turbo_lut()


def depth_range(depth: np.ndarray) -> tuple[float, float]:
    """A display range for depth: 1st to 99th percentile of the valid (finite, non-zero) values."""
    valid = depth[np.isfinite(depth) & (depth != 0)]
    if valid.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(valid, [1, 99])
    return float(lo), float(hi) if hi > lo else float(lo) + 1.0


def colorize(depth: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Depth (any numeric HxW) to RGB with Turbo; zero and non-finite pixels are black."""
    values = depth.astype(np.float32, copy=False)
    index = np.clip((values - lo) * (255.0 / (hi - lo)), 0, 255)
    index = np.nan_to_num(index, nan=0.0).astype(np.uint8)
    rgb = TURBO[index]
    rgb[~np.isfinite(values) | (values == 0)] = 0
    return rgb


class FrameDecoder:
    """Bytes of one image topic -> HxWx3 uint8 RGB, at the first frame's size."""

    def __init__(self, type_name: str, depth_range_: tuple[float, float] | None = None) -> None:
        self.type_name = type_name
        self.depth_range = depth_range_
        self.size: tuple[int, int] | None = None  # (width, height) of the first frame
        self.resized = 0
        self._raw = foxglove_message_class("RawImage") if type_name.endswith("RawImage") else None

    def __call__(self, data: Any) -> np.ndarray:
        """Raises ValueError (or another decoder error) for bytes that are not an image."""
        pixels = decode_image(self.type_name, data)
        encoding = ""
        if self._raw is not None:
            encoding = self._raw.FromString(bytes(data)).encoding
        rgb = self._to_rgb(pixels, encoding)
        height, width = rgb.shape[:2]
        if self.size is None:
            self.size = (width, height)
        elif (width, height) != self.size:
            self.resized += 1
            rgb = resize(rgb, self.size)
        return rgb

    def _to_rgb(self, pixels: np.ndarray, encoding: str) -> np.ndarray:
        if pixels.dtype != np.uint8 or (pixels.ndim == 2 and encoding in ("mono16", "16UC1", "32FC1")):
            if pixels.ndim == 3:
                pixels = pixels[:, :, 0]
            if self.depth_range is None:
                self.depth_range = depth_range(pixels)
            return colorize(pixels, *self.depth_range)
        if pixels.ndim == 2:
            return np.repeat(pixels[:, :, None], 3, axis=2)
        if encoding.startswith("bgr"):
            pixels = pixels[:, :, 2::-1]
        elif pixels.shape[2] != 3:
            pixels = pixels[:, :, :3] if pixels.shape[2] == 4 else np.repeat(pixels[:, :, :1], 3, axis=2)
        return np.ascontiguousarray(pixels)


def resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR))


def pad_even(rgb: np.ndarray) -> np.ndarray:
    """H.264 in yuv420p needs even sizes: repeat the last row/column where one is odd."""
    height, width = rgb.shape[:2]
    if height % 2 == 0 and width % 2 == 0:
        return rgb
    return np.pad(rgb, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")


def tile(frames: list[np.ndarray | None], size: tuple[int, int], columns: int | None = None) -> np.ndarray:
    """Frames side by side, row by row, in a grid of ``columns`` (default ``ceil(sqrt(n))``);
    missing frames are black."""
    columns = columns or int(np.ceil(np.sqrt(len(frames))))
    rows = -(-len(frames) // columns)
    width, height = size
    canvas = np.zeros((rows * height, columns * width, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        if frame is None:
            continue
        if frame.shape[:2] != (height, width):
            frame = resize(frame, size)
        r, c = divmod(i, columns)
        canvas[r * height : (r + 1) * height, c * width : (c + 1) * width] = frame
    return canvas


def grid_columns(count: int, height: int, width: int, aspect: tuple[float, float] = (1, 1)) -> int:
    """Columns of the grid that Gymnasium's vector ``RecordVideo`` tiles ``count`` frames in: of the
    exact grids (rows dividing ``count``, rows <= sqrt(count)), the first whose shape is nearest
    ``aspect`` (width:height)."""
    target = aspect[0] / aspect[1]
    best, best_diff = count, math.inf
    for rows in range(1, math.isqrt(count) + 1):
        if count % rows == 0:
            diff = abs((count // rows) * width / (rows * height) - target)
            if diff < best_diff:
                best, best_diff = count // rows, diff
    return best


def overlay(rgb: np.ndarray, text: str) -> np.ndarray:
    """``text`` in the top-left corner, white on a dark box, so it reads on any image."""
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((4, 4), text)
    draw.rectangle((left - 2, top - 2, right + 2, bottom + 2), fill=(0, 0, 0))
    draw.text((4, 4), text, fill=(255, 255, 255))
    return np.asarray(image)
