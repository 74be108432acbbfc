"""MCAP -> MP4 with real ffmpeg: frame counts, sizes, rates and pixels read back from the files."""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from simrec_node.cli.main import main
from simrec_node.convert import Mp4Options, convert_to_mp4, open_log
from simrec_node.msgs import encode_compressed_image, encode_raw_image
from tests.convert_logs import MS, T0, clocks, write_log

W, H = 161, 121  # odd on purpose: H.264 yuv420p needs even sizes
PSNR_MIN_DB = 30.0


def smooth(i: int, width: int = W, height: int = H) -> np.ndarray:
    """A smooth moving gradient (compresses well, so PSNR measures the pipeline, not x264)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 127 + 100 * np.sin((x + 3 * i) / 23)
    g = 127 + 100 * np.cos((y - 2 * i) / 19)
    b = 127 + 60 * np.sin((x + y) / 31)
    return np.stack([r, g, b], axis=2).astype(np.uint8)


def camera(topic: str, count: int, period_ns: int, encode, start_ns: int = 0) -> list:
    return [(topic, *encode(i), T0 + start_ns + i * period_ns) for i in range(count)]


def raw_rgb(i: int):
    return "foxglove.RawImage", encode_raw_image(smooth(i), encoding="rgb8")


def _messages(frames: list) -> list[tuple[str, str, int, bytes]]:
    return [(topic, type_name, t, data) for topic, type_name, data, t in frames]


def read_video(path: Path) -> tuple[dict, np.ndarray]:
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = gen.__next__()
    width, height = meta["size"]
    frames = [np.frombuffer(f, dtype=np.uint8).reshape(height, width, 3) for f in gen]
    return meta, np.stack(frames)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def test_raw_rgb_frames_round_trip(tmp_path: Path, capsys) -> None:
    path = write_log(
        tmp_path / "cam.mcap",
        _messages(camera("/camera/rgb", 30, 33_333_333, raw_rgb)) + clocks(3, period_ns=MS),
    )
    out = tmp_path / "rgb.mp4"
    assert main(["convert", str(path), "-o", str(out), "--topic", "/camera/rgb"]) == 0
    assert "30 frames 162x122 at 30 fps" in capsys.readouterr().out
    meta, frames = read_video(out)
    assert meta["fps"] == 30 and meta["size"] == (162, 122) and len(frames) == 30
    for i in (0, 14, 29):
        assert psnr(frames[i, :H, :W], smooth(i)) > PSNR_MIN_DB
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_compressed_formats_bgr_and_depth(tmp_path: Path) -> None:
    red = np.zeros((48, 64, 3), np.uint8)
    red[..., 0] = 255
    depth = np.tile(np.linspace(100, 5000, 64, dtype=np.uint16), (48, 1))
    frames = (
        camera(
            "/png",
            4,
            100 * MS,
            lambda i: ("foxglove.CompressedImage", encode_compressed_image(red, format="png")),
        )
        + camera("/jpeg", 4, 100 * MS, lambda i: ("foxglove.CompressedImage", encode_compressed_image(red)))
        + camera(
            "/bgr",
            4,
            100 * MS,
            lambda i: ("foxglove.RawImage", encode_raw_image(red[..., ::-1].copy(), encoding="bgr8")),
        )
        + camera(
            "/depth", 4, 100 * MS, lambda i: ("foxglove.RawImage", encode_raw_image(depth, encoding="mono16"))
        )
    )
    path = write_log(tmp_path / "many.mcap", _messages(frames))
    (tmp_path / "videos").mkdir()
    videos = convert_to_mp4(open_log(path), tmp_path / "videos/")
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == [
        "bgr.mp4",
        "depth.mp4",
        "jpeg.mp4",
        "png.mp4",
    ]
    assert all(v.frames == 4 and v.fps == 10 for v in videos)
    for name in ("bgr", "jpeg", "png"):
        _, pixels = read_video(tmp_path / "videos" / f"{name}.mp4")
        mean = pixels[:, 8:-8, 8:-8].reshape(-1, 3).mean(axis=0)
        assert mean[0] > 200 and mean[1] < 60 and mean[2] < 60, (name, mean)
    _, colored = read_video(tmp_path / "videos" / "depth.mp4")
    left, right = colored[0, 24, 4].astype(int), colored[0, 24, -5].astype(int)
    assert np.abs(left - right).sum() > 150  # near and far get different colours


def test_constant_rate_repeats_and_drops(tmp_path: Path) -> None:
    slow = camera("/slow", 10, 66_666_667, raw_rgb)  # 15 Hz
    fast = camera("/fast", 40, 16_666_667, raw_rgb)  # 60 Hz
    path = write_log(tmp_path / "rates.mcap", _messages(slow + fast))
    (up,) = convert_to_mp4(open_log(path), tmp_path / "up.mp4", Mp4Options(topics=("/slow",), fps=30))
    assert up.frames == 19 and up.repeated == 9 and up.dropped == 0
    meta, frames = read_video(tmp_path / "up.mp4")
    assert len(frames) == 19 and meta["fps"] == 30
    assert psnr(frames[1, :H, :W], smooth(0)) > PSNR_MIN_DB  # frame 0 held for two slots
    (down,) = convert_to_mp4(open_log(path), tmp_path / "down.mp4", Mp4Options(topics=("/fast",), fps=30))
    assert down.frames == 21 and down.dropped == 19 and down.repeated == 0
    (every,) = convert_to_mp4(open_log(path), tmp_path / "every.mp4", Mp4Options(topics=("/fast",), every=2))
    assert every.fps == 30 and every.frames == 20 and every.dropped == 0
    each_options = Mp4Options(topics=("/fast",), fps=50, each_frame=True)
    (each,) = convert_to_mp4(open_log(path), tmp_path / "each.mp4", each_options)
    assert each.frames == 40 and each.dropped == 0 and each.repeated == 0
    meta, frames = read_video(tmp_path / "each.mp4")
    assert len(frames) == 40 and meta["fps"] == 50


def test_undecodable_and_resized_frames_are_counted(tmp_path: Path, capsys) -> None:
    good = camera(
        "/cam", 6, 100 * MS, lambda i: ("foxglove.CompressedImage", encode_compressed_image(smooth(i)))
    )
    small = [("/cam", "foxglove.CompressedImage", encode_compressed_image(smooth(9, 80, 60)), T0 + 650 * MS)]
    from simrec_node.msgs import CompressedImage

    garbage = [
        (
            "/cam",
            "foxglove.CompressedImage",
            CompressedImage(format="jpeg", data=b"\xff\xd8junk").SerializeToString(),
            T0 + 250 * MS,
        )
    ]
    path = write_log(tmp_path / "bad.mcap", _messages(good + small + garbage))
    assert main(["convert", str(path), "-o", str(tmp_path / "bad.mp4"), "--fps", "10"]) == 0
    out = capsys.readouterr().out
    assert "1 undecodable (skipped)" in out and "1 resized" in out
    meta, frames = read_video(tmp_path / "bad.mp4")
    assert meta["size"] == (162, 122) and len(frames) == 8


def test_tile_overlay_and_clips(tmp_path: Path) -> None:
    frames = camera("/a", 12, 100 * MS, raw_rgb) + camera("/b", 12, 100 * MS, raw_rgb, start_ns=MS)
    path = write_log(tmp_path / "two.mcap", _messages(frames))
    (tiled,) = convert_to_mp4(
        open_log(path), tmp_path / "tiled.mp4", Mp4Options(topics=("/a", "/b"), tile=True)
    )
    meta, pixels = read_video(tmp_path / "tiled.mp4")
    assert meta["size"] == (2 * W, H + 1) and tiled.fps == 10
    assert psnr(pixels[-1, :H, W : 2 * W], smooth(11)) > PSNR_MIN_DB
    convert_to_mp4(open_log(path), tmp_path / "plain.mp4", Mp4Options(topics=("/a",)))
    convert_to_mp4(open_log(path), tmp_path / "text.mp4", Mp4Options(topics=("/a",), overlay=True))
    _, plain = read_video(tmp_path / "plain.mp4")
    _, text = read_video(tmp_path / "text.mp4")
    assert psnr(plain[:, 40:, :], text[:, 40:, :]) > 40 and psnr(plain[:, :12, :60], text[:, :12, :60]) < 20
    (clips,) = convert_to_mp4(
        open_log(path), tmp_path / "clip.mp4", Mp4Options(topics=("/a",), video_length=5)
    )
    assert [p.name for p in clips.files] == ["clip_000.mp4", "clip_001.mp4", "clip_002.mp4"]
    assert [len(read_video(p)[1]) for p in clips.files] == [5, 5, 2]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["-t", "/clock"], "not an image topic; image topics: /a"),
        (["-t", "/a", "-t", "/b"], "--tile"),
        (["-t", "/a", "--every", "0"], "--every"),
        (["-t", "/a", "--hz", "3"], "apply to .npz"),
    ],
)
def test_bad_video_requests_are_one_line(tmp_path: Path, capsys, argv, needle) -> None:
    frames = camera("/a", 3, 100 * MS, raw_rgb) + camera("/b", 3, 100 * MS, raw_rgb)
    path = write_log(tmp_path / "x.mcap", _messages(frames) + clocks(2, period_ns=MS))
    assert main(["convert", str(path), "-o", str(tmp_path / "x.mp4"), *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert not (tmp_path / "x.mp4").exists()
