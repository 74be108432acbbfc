"""Time ``simrec convert`` against the bare libraries it is built on, in the same run.

Run ``python benchmarks/bench_convert.py``. Two comparisons, alternated and repeated, medians
reported:

- NPZ: converting a log of StateBatch messages to an .npz (read, decode, flatten, write) vs
  only iterating the same messages with ``mcap.reader.make_reader(...).iter_messages()``.
  Target: ratio (baseline time / convert time) >= 0.7.
- MP4: converting a log of 640x480 RawImage rgb8 frames to H.264 vs handing the same frames,
  already decoded in memory, to ``imageio_ffmpeg.write_frames`` with the same settings.
  Target: ratio >= 0.8, and faster than real time at 30 fps.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from mcap.reader import make_reader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from page_cache import settle  # this folder (scripts run from it)

from simrec_node.convert import (
    Mp4Options,
    NpzOptions,
    build_arrays,
    convert_to_mp4,
    convert_to_npz,
    open_log,
)
from simrec_node.msgs import RawImage, StateBatch, descriptor_set_of, encode_raw_image, encode_state_batch
from simrec_node.record import McapWriter

NPZ_TARGET, MP4_TARGET = 0.7, 0.8
T0 = 1_700_000_000_000_000_000


def _write(path: Path, type_class, topic: str, payloads, period_ns: int) -> None:
    with McapWriter(path, compression="zstd") as writer:
        schema = writer.add_schema(type_class.DESCRIPTOR.full_name, "protobuf", descriptor_set_of(type_class))
        channel = writer.add_channel(topic, "protobuf", schema)
        for i, data in enumerate(payloads):
            writer.write(channel, i + 1, T0 + i * period_ns, T0 + i * period_ns, data)


def state_log(path: Path, steps: int, envs: int, dof: int) -> None:
    rng = np.random.default_rng(0)

    def batches():
        for i in range(steps):
            yield encode_state_batch(
                {
                    "qpos": rng.standard_normal((envs, dof), dtype=np.float32),
                    "qvel": rng.standard_normal((envs, dof), dtype=np.float32),
                    "reward": rng.standard_normal(envs, dtype=np.float32),
                    "done": rng.random(envs) < 0.01,
                },
                step=i,
                sim_time=i * 0.01,
            )

    _write(path, StateBatch, "/sim/state", batches(), 10_000_000)


def frames(count: int, width: int = 640, height: int = 480) -> list[np.ndarray]:
    """Smooth moving gradients with a moving square: content an encoder has to work on a little."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = []
    for i in range(count):
        rgb = np.stack(
            [127 + 100 * np.sin((x + 4 * i) / 40), 127 + 100 * np.cos((y - 3 * i) / 35), (x + y + i) % 256],
            axis=2,
        ).astype(np.uint8)
        rgb[100 + i % 200 : 160 + i % 200, 200:260] = (255, 255, 0)
        out.append(rgb)
    return out


def _medians(fns: list[Callable[[], None]], reps: int, remove: tuple[Path, ...] = ()) -> list[float]:
    """Median seconds of each function, run in turn ``reps`` times (alternating, same conditions)."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(reps):
        for fn, sink in zip(fns, times, strict=True):
            settle(remove)
            start = time.perf_counter()
            fn()
            sink.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def bench_npz(tmp: Path, reps: int, steps: int, envs: int, dof: int) -> float:
    log = tmp / "state.mcap"
    state_log(log, steps, envs, dof)
    out = tmp / "state.npz"

    def base() -> None:
        with open(log, "rb") as f:
            for _ in make_reader(f).iter_messages():
                pass

    def arrays() -> None:
        build_arrays(open_log(log), NpzOptions())

    new = tmp / "new.npz"

    def npz() -> None:  # a new file, as a user's convert writes (the last rep's is removed first)
        convert_to_npz(open_log(log), new, NpzOptions())

    def npz_over() -> None:  # --overwrite: ext4 flushes the new file when it replaces the old one
        convert_to_npz(open_log(log), out, NpzOptions(), overwrite=True)

    base_s, arrays_s, npz_s, over_s = _medians([base, arrays, npz, npz_over], reps, remove=(new,))
    size = os.path.getsize(log) / 2**20
    print(f"NPZ  {steps} StateBatch msgs, 2 x [{envs}x{dof}] f32 + 2 x [{envs}] ({size:.0f} MiB, zstd)")
    rows = [
        ("mcap make_reader().iter_messages(), nothing else", base_s),
        ("convert to arrays (build_arrays / to_numpy)", arrays_s),
        ("convert and write a new .npz (simrec convert)", npz_s),
        ("the same, replacing an existing .npz (--overwrite)", over_s),
    ]
    for name, seconds in rows:
        ratio = f"ratio {base_s / seconds:.2f}" if seconds is not base_s else ""
        print(f"     {name:50} {seconds * 1e3:6.0f} ms  {ratio}")
    print(f"     target: ratio >= {NPZ_TARGET} for the full conversion to a new file")
    return base_s / npz_s


def bench_mp4(tmp: Path, reps: int, count: int) -> tuple[float, float]:
    images = frames(count)
    log = tmp / "camera.mcap"
    _write(log, RawImage, "/camera/rgb", (encode_raw_image(f, encoding="rgb8") for f in images), 33_333_333)
    out = tmp / "ours.mp4"

    def ours() -> None:
        convert_to_mp4(open_log(log), out, Mp4Options(topics=("/camera/rgb",)), overwrite=True)

    def base() -> None:
        writer = imageio_ffmpeg.write_frames(
            str(tmp / "base.mp4"), (640, 480), fps=30, codec="libx264", pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p", quality=5.0, macro_block_size=1, ffmpeg_log_level="error",
        )  # fmt: skip
        writer.send(None)
        for frame in images:
            writer.send(frame)
        writer.close()

    base_s, ours_s = _medians([base, ours], reps)
    ratio, speed = base_s / ours_s, count / ours_s
    print(
        f"MP4  {count} frames 640x480 rgb8: convert {ours_s * 1e3:.0f} ms ({speed:.0f} fps, "
        f"{speed / 30:.1f}x real time at 30 fps), bare write_frames {base_s * 1e3:.0f} ms, "
        f"ratio {ratio:.2f} (target >= {MP4_TARGET})"
    )
    return ratio, speed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--envs", type=int, default=256)
    parser.add_argument("--dof", type=int, default=16)
    parser.add_argument("--frames", type=int, default=150)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; medians of {args.reps} alternating runs")
    with tempfile.TemporaryDirectory() as tmp:
        npz_ratio = bench_npz(Path(tmp), args.reps, args.steps, args.envs, args.dof)
        mp4_ratio, fps = bench_mp4(Path(tmp), args.reps, args.frames)
    ok = npz_ratio >= NPZ_TARGET and mp4_ratio >= MP4_TARGET and fps > 30
    print("all targets met" if ok else "a target was MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
