"""LeRobot export of compare.py's camera workload against the path a user has today by hand.

    python benchmarks/bench_lerobot.py [--seconds 10] [--episode 2.5] [--reps 3]

The log is compare.py's "cam" workload made by the in-process ``Recorder`` (``compare_case``'s
frames and state loop): two 640x480 JPEG cameras at 30 Hz and the state at 100 Hz, here one env
with a [64] state (compare.py's 4096 envs make no LeRobot episode) and an episode end every
``--episode`` seconds of sim time. Timed alternately, ``--reps`` times each, best of each:

- simrec: ``export_lerobot(log, DIR)`` (the default mapping: ``observation.state``,
  ``next.reward``, ``next.done``, ``observation.images.rgb0/1``; 30 fps from the cameras);
- by hand: the ``mcap`` reader with ``mcap-protobuf-support``'s decoder, the state tensors
  stacked with numpy and sampled at each camera frame (``np.searchsorted``), episode numbers from
  the recorded ends, the frames decoded with imageio and written with imageio (libx264, the same
  CRF and keyframe interval), the table with pyarrow.

Both write the same frames and the same videos (checked: frame counts). Goal: simrec at least
as fast (ratio = by hand / simrec >= 1).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_case import POOL, STATE_HZ, frame_pool  # this folder (run as a script)
from compare_sinks import CAM_FPS, STATE_TOPIC, camera_topic

CRF, GOP = 23, CAM_FPS  # export_lerobot's defaults, given to the hand-written path too


def make_log(path: Path, seconds: float, episode_s: float, dim: int = 64) -> None:
    from simrec_node import Recorder

    frames = [frame_pool(480, 640, cam, POOL) for cam in range(2)]
    rng = np.random.default_rng(2)
    states = [rng.standard_normal((1, dim)).astype(np.float32) for _ in range(POOL)]
    steps = round(seconds * STATE_HZ)
    per_episode = round(episode_s * STATE_HZ)
    tick = -1
    with Recorder(path) as rec:
        for step in range(steps):
            t = step / STATE_HZ
            state = states[step % POOL]
            reward = state[:, 0].copy()
            rec.log(
                STATE_TOPIC, {"state": state, "reward": reward, "done": reward > 0.5}, step=step, sim_time=t
            )
            if int(t * CAM_FPS) != tick:
                tick = int(t * CAM_FPS)
                for cam in range(2):
                    rec.log_image(camera_topic(cam), frames[cam][tick % POOL], sim_time=t)
            if (step + 1) % per_episode == 0:
                rec.episode_end(0, return_=0.0, sim_time=t, step=step)


def by_hand(log: Path, out: Path) -> int:
    """What a user writes today: read, decode, stack, sample, write Parquet and MP4."""
    import imageio.v2 as imageio
    import imageio.v3 as iio
    import pyarrow as pa
    import pyarrow.parquet as pq
    from mcap.reader import make_reader
    from mcap_protobuf.decoder import DecoderFactory

    state_t, states, rewards, ends = [], [], [], []
    cams: dict[str, tuple[list[int], list[bytes]]] = {camera_topic(c): ([], []) for c in range(2)}
    with open(log, "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        for _, channel, message, proto in reader.iter_decoded_messages():
            if channel.topic == STATE_TOPIC:
                tensor = proto.tensors["state"]
                states.append(np.asarray(tensor.float32_data, np.float32).reshape(tuple(tensor.shape)))
                rewards.append(np.asarray(proto.tensors["reward"].float32_data, np.float32)[0])
                state_t.append(message.publish_time)
            elif channel.topic in cams:
                cams[channel.topic][0].append(message.publish_time)
                cams[channel.topic][1].append(proto.data)
            elif channel.topic == "/episodes":
                ends.append(round(proto.end_time * 1e9))
    state = np.stack(states).reshape(len(states), -1)
    times = np.asarray(cams[camera_topic(0)][0])
    rows = np.searchsorted(np.asarray(state_t), times, side="right") - 1
    keep = times <= ends[-1]  # frames of ended episodes
    times, rows = times[keep], rows[keep]
    episode = np.searchsorted(np.asarray(ends), times, side="left")
    out.mkdir()
    table = pa.table(
        {
            "observation.state": pa.FixedSizeListArray.from_arrays(
                pa.array(state[rows].reshape(-1)), state.shape[1]
            ),
            "next.reward": pa.array(np.asarray(rewards)[rows]),
            "episode_index": pa.array(episode),
            "timestamp": pa.array((times - times[0]) / 1e9),
        }
    )
    pq.write_table(table, out / "data.parquet")
    for topic, (_, payloads) in cams.items():
        writer = imageio.get_writer(
            out / f"{topic.strip('/').replace('/', '.')}.mp4",
            fps=CAM_FPS,
            codec="libx264",
            quality=None,
            pixelformat="yuv420p",
            macro_block_size=1,
            output_params=["-crf", str(CRF), "-g", str(GOP)],
            ffmpeg_log_level="error",
        )
        for data in payloads[: len(times)]:
            writer.append_data(iio.imread(data))
        writer.close()
    return len(times)


def ours(log: Path, out: Path) -> int:
    from simrec_node.convert.lerobot import export_lerobot

    return export_lerobot([log], out, crf=CRF).frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="sim seconds in the log")
    parser.add_argument("--episode", type=float, default=2.5, help="sim seconds per episode")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "cam.mcap"
        make_log(log, args.seconds, args.episode)
        print(
            f"log: {log.stat().st_size / 1e6:.1f} MB, {args.seconds:g} s of sim time, "
            "2 cameras 640x480 @ 30 Hz"
        )
        timings: dict[str, list[float]] = {
            "simrec export_lerobot": [],
            "by hand (mcap + numpy + pyarrow + imageio)": [],
        }
        frames = {}
        for run in (ours, by_hand):  # once untimed: imports (pyarrow, pandas, PIL plugins) off the clock
            run(log, Path(tmp) / f"warm-{run.__name__}")
        for rep in range(args.reps):
            for name, run in zip(timings, (ours, by_hand), strict=True):
                out = Path(tmp) / f"out-{rep}-{run.__name__}"
                started = time.perf_counter()
                frames[name] = run(log, out)
                timings[name].append(time.perf_counter() - started)
                shutil.rmtree(out)
        counts = set(frames.values())
        assert len(counts) == 1, f"the two paths wrote different frame counts: {frames}"
        for name, values in timings.items():
            print(f"{name:45s} best {min(values):6.2f} s  (all: {', '.join(f'{v:.2f}' for v in values)})")
        simrec, hand = (min(v) for v in timings.values())
        ratio = hand / simrec
        print(
            f"frames: {counts.pop()} per camera; ratio by hand / simrec = {ratio:.2f}x (goal >= 1: "
            f"{'met' if ratio >= 1 else 'not met'})"
        )


if __name__ == "__main__":
    main()
