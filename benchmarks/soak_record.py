"""Long-run soak of ``simrec record``: is memory flat and is nothing dropped after an hour?

Workload (issue #7): 20 state topics at 100 Hz plus two 640x480 camera topics at 30 Hz (JPEG
``foxglove.CompressedImage``, ~60 KB a frame; raw RGB would write ~200 GB an hour), published by
one process; ``simrec record -a`` with the default flush interval, split every 1 GiB. The recorder's
RSS is sampled every 5 s; the report compares the peak after the first minute with the RSS at one
minute, and sums every drop counter the recorder wrote.

    python benchmarks/soak_record.py                 # one hour
    python benchmarks/soak_record.py --duration 120  # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
STATE_TOPICS = 20
STATE_HZ = 100
CAMERA_HZ = 30


def publish(duration_s: float) -> None:
    """The publishing side: 20 StateBatch topics at 100 Hz and two JPEG cameras at 30 Hz."""
    from simrec_node.graph import Node
    from simrec_node.msgs import CompressedImage, StateBatch, encode_compressed_image, encode_state_batch

    rng = np.random.default_rng(0)
    frames = []
    for shift in range(30):  # precomputed: a sim renders, it does not JPEG-encode in the benchmark
        y, x = np.mgrid[0:480, 0:640]
        rgb = np.stack([(x + 8 * shift) % 256, (y + 4 * shift) % 256, (x ^ y) % 256], axis=-1).astype(
            np.uint8
        )
        rgb[::7] = rng.integers(0, 255, rgb[::7].shape, dtype=np.uint8)
        frames.append(encode_compressed_image(rgb, quality=85))
    with Node("soak_publisher") as node:
        states = [node.create_publisher(StateBatch, f"/soak/state_{i}") for i in range(STATE_TOPICS)]
        cameras = [node.create_publisher(CompressedImage, f"/soak/camera_{i}") for i in range(2)]
        if not states[0].wait_for_subscribers(30):
            sys.exit("no recorder appeared")
        time.sleep(1.0)
        print("ready", flush=True)
        qpos = rng.standard_normal((16, 8)).astype(np.float32)
        start = time.monotonic()
        tick = 0
        while time.monotonic() - start < duration_s:
            payload = encode_state_batch({"qpos": qpos}, step=tick, sim_time=tick / STATE_HZ)
            for publisher in states:
                publisher.publish(payload)
            if tick % 10 in (0, 3, 7):  # 30 of every 100 ticks
                frame = frames[tick % len(frames)]
                for camera in cameras:
                    camera.publish(frame)
            tick += 1
            time.sleep(max(0.0, start + tick / STATE_HZ - time.monotonic()))
        print(f"published {tick} ticks", flush=True)


def memory(pid: int) -> dict[str, int]:
    """VmRSS and its parts (anonymous, file-backed, shared memory such as Zenoh's pool), bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


class _Tally:
    """Counts and drops of finished split files, read once each (and then deleted, if asked)."""

    def __init__(self) -> None:
        self.files = 0
        self.written = 0
        self.drops: dict[str, int] = {}
        self._seen: set[Path] = set()

    def take(self, paths: list[Path], delete: bool = False) -> None:
        from mcap.reader import make_reader

        for path in paths:
            if path in self._seen:
                continue
            self._seen.add(path)
            self.files += 1
            with path.open("rb") as f:
                reader = make_reader(f)
                self.written += reader.get_summary().statistics.message_count
                for record in reader.iter_metadata():
                    if record.name == "simrec.topic_stats":
                        for topic, raw in record.metadata.items():
                            counts = json.loads(raw)
                            dropped = sum(v for k, v in counts.items() if k.endswith("_dropped"))
                            self.drops[topic] = self.drops.get(topic, 0) + dropped
            if delete:
                path.unlink()


def soak(duration_s: float, workdir: Path, keep: bool = False) -> dict:
    env = {
        **os.environ,
        "SIMREC_DOMAIN": "soak" + uuid.uuid4().hex[:8],
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    output = workdir / "soak"
    recorder = subprocess.Popen(
        [sys.executable, "-m", "simrec_node.cli.main", "record", "-a", "-o", str(output), "-b", "1G", "-q"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    publisher = subprocess.Popen(
        [sys.executable, __file__, "--publish", str(duration_s)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert publisher.stdout.readline().strip() == "ready", "publisher did not start"
    started = time.monotonic()
    samples: list[tuple[float, int]] = []
    parts: list[tuple[float, dict[str, int]]] = []
    tally = _Tally()
    while publisher.poll() is None:
        now = memory(recorder.pid)
        elapsed = time.monotonic() - started
        samples.append((elapsed, now["VmRSS"]))
        parts.append((elapsed, now))
        mib = " ".join(f"{k} {v / 2**20:.1f}" for k, v in now.items())
        print(f"{elapsed:6.0f} s  {mib} MiB", file=sys.stderr, flush=True)  # progress, for long runs
        finished = sorted(output.glob("soak_*.mcap"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))[:-1]
        tally.take(finished, delete=not keep)  # an hour of cameras would fill the disk otherwise
        time.sleep(5.0)
    time.sleep(2.0)
    recorder.send_signal(signal.SIGINT)
    _, err = recorder.communicate(timeout=120)
    after_minute = [rss for t, rss in samples if t >= 60] or [samples[-1][1]]
    at_minute = after_minute[0]
    tally.take(sorted(output.glob("soak_*.mcap")))
    return {
        "duration_s": duration_s,
        "files": tally.files,
        "messages_written": tally.written,
        "dropped_total": sum(tally.drops.values()),
        "rss_at_1min_mib": round(at_minute / 2**20, 1),
        "rss_peak_after_1min_mib": round(max(after_minute) / 2**20, 1),
        "rss_growth_after_1min": round(max(after_minute) / at_minute - 1, 4),
        "rss_parts_mib": [
            (round(t), {k: round(v / 2**20, 1) for k, v in part.items()})
            for t, part in parts[:: max(1, len(parts) // 30)]
        ],
        "rss_samples_mib": [
            (round(t), round(rss / 2**20, 1)) for t, rss in samples[:: max(1, len(samples) // 60)]
        ],
        "recorder_exit": recorder.returncode,
        "recorder_report": err.strip().splitlines()[-3:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=3600.0, help="seconds of publishing (default 3600)")
    parser.add_argument("--keep", action="store_true", help="keep the recorded files")
    parser.add_argument("--publish", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish is not None:
        publish(args.publish)
        return
    workdir = Path(tempfile.mkdtemp(prefix="simrec_soak_"))
    try:
        result = soak(args.duration, workdir, keep=args.keep)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, indent=1))
    flat = result["rss_growth_after_1min"] <= 0.10
    print(
        f"RSS {result['rss_at_1min_mib']} MiB at 1 min, peak {result['rss_peak_after_1min_mib']} MiB after "
        f"({result['rss_growth_after_1min']:+.1%}, target <= +10%: {'met' if flat else 'MISSED'}); "
        f"{result['messages_written']:,} messages in {result['files']} files, "
        f"{result['dropped_total']} dropped"
    )


if __name__ == "__main__":
    main()
