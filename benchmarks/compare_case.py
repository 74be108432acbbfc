"""One case of compare.py (one workload through one recorder), run in a fresh process.

    python compare_case.py '<json spec>'            # prints one JSON line of results
    python compare_case.py --publish '<json spec>'  # the publisher side of simrec-graph

Phases: "loop" runs the workload with the simulator's ~5 ms of numpy work per step (the
slowdown figure); "flat" runs it with no work, as fast as the recorder takes it (throughput),
and its file is measured: size, peak RSS of this process (taken before anything is read
back), read-back into numpy, and a seek. Workloads:
  rl     [envs, dim] float32 state + [envs] reward + [envs] done per step
  cam    the rl state at 100 Hz plus two RGB cameras at 30 Hz
  flood  100-byte messages round-robin on 20 topics (no loop phase)
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
from compare_read import read_back, seek  # this folder (run as a script)
from compare_sinks import CAM_FPS, SINKS, STATE_TOPIC, PublisherSink, Sink, camera_topic, flood_topic

STATE_HZ = 100
SEEK_POINTS = 9  # seeks per case and repetition (``seek_points``)
POOL = 8  # distinct states / frames cycled in the flat phase (more than any cache holds)


# ---------------------------------------------------------------- the workloads


def make_work(envs: int, dim: int, reps: int):
    a = np.random.default_rng(0).standard_normal((envs, dim)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((dim, dim)).astype(np.float32)

    def work(state: np.ndarray) -> None:
        """The simulator's own step (``reps`` calibrated by compare.py to ~5 ms)."""
        for _ in range(reps):
            np.tanh(state @ w, out=state)
            state += a * 1e-3

    return work


def calibrate(envs: int, dim: int, target_s: float) -> int:
    """Repetitions of the work kernel that take ``target_s`` on this machine (warmed up first:
    BLAS threads start slowly; the fastest of several timings, as other work may be running)."""
    work = make_work(envs, dim, 1)
    state = np.random.default_rng(2).standard_normal((envs, dim)).astype(np.float32)
    for _ in range(50):
        work(state)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(20):
            work(state)
        timings.append((time.perf_counter() - started) / 20)
    return max(1, round(target_s / min(timings)))  # the kernel's speed when it has the cores


def frame_pool(height: int, width: int, cam: int, count: int) -> list[np.ndarray]:
    """Camera-like frames: smooth shading, a moving object, sensor noise (not random bytes,
    which no codec compresses)."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height)], -1).astype(
        np.uint8
    )
    rng = np.random.default_rng(10 + cam)
    frames = []
    for i in range(count):
        frame = base.copy()
        left = (i * 13 + cam * 97) % max(1, width - width // 8)
        frame[height // 4 : height // 2, left : left + width // 8] = (255, 64 * cam, 0)
        frame += rng.integers(0, 4, frame.shape, dtype=np.uint8)
        frames.append(frame)
    return frames


def state_pool(envs: int, dim: int, work) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    state = np.random.default_rng(2).standard_normal((envs, dim)).astype(np.float32)
    pool = []
    for _ in range(POOL):
        work(state)
        reward = state[:, 0].copy()
        pool.append((state.copy(), reward, reward > 0.5))
    return pool


def run_state_loop(sink: Sink, size: dict, work, with_cameras: bool) -> None:
    """rl and cam: ``steps`` sim steps at 100 Hz; the cameras every 1/30 s of sim time."""
    envs, dim, steps = size["envs"], size["dim"], size["steps"]
    pool = None if work else state_pool(envs, dim, make_work(envs, dim, 1))
    frames = (
        [frame_pool(size["height"], size["width"], cam, POOL) for cam in range(2)] if with_cameras else []
    )
    state = np.random.default_rng(2).standard_normal((envs, dim)).astype(np.float32)
    reward = np.zeros(envs, np.float32)
    done = np.zeros(envs, bool)
    tick = -1
    for step in range(steps):
        t = step / STATE_HZ
        if work:
            work(state)
            reward[:] = state[:, 0]
            np.greater(reward, 0.5, out=done)
            sink.state(step, t, state, reward, done)
        else:
            sink.state(step, t, *pool[step % POOL])
        if frames and int(t * CAM_FPS) != tick:
            tick = int(t * CAM_FPS)
            for cam, pool_frames in enumerate(frames):
                sink.image(cam, step, t, pool_frames[tick % POOL])


def flood_payloads(count: int, size: int) -> list[np.ndarray]:
    """Telemetry-like 100-byte payloads: half small structured values, half noise."""
    rng = np.random.default_rng(3)
    pool = []
    for _ in range(count):
        structured = np.zeros(size // 2, np.uint8)
        structured[::5] = rng.integers(0, 4, len(structured[::5]))
        pool.append(np.concatenate([structured, rng.integers(0, 256, size - size // 2, dtype=np.uint8)]))
    return pool


def run_flood(sink: Sink, size: dict) -> None:
    payloads = flood_payloads(4096, size["bytes"])
    topics = size["topics"]
    message = sink.message
    for i in range(size["count"]):
        message(i % topics, i, payloads[i % 4096])


def drive(sink: Sink, workload: str, size: dict, work) -> None:
    if workload == "flood":
        run_flood(sink, size)
    else:
        run_state_loop(sink, size, work, with_cameras=workload == "cam")


def payload_bytes(workload: str, size: dict) -> int:
    """Raw bytes the workload hands over (arrays' nbytes, frames' pixels): the MB/s numerator."""
    if workload == "flood":
        return size["count"] * size["bytes"]
    per_step = size["envs"] * (size["dim"] * 4 + 4 + 1)
    total = size["steps"] * per_step
    if workload == "cam":
        frames = int((size["steps"] - 1) / STATE_HZ * CAM_FPS) + 1
        total += 2 * frames * size["height"] * size["width"] * 3
    return total


def seek_topic(workload: str) -> str:
    return {"rl": STATE_TOPIC, "cam": camera_topic(0), "flood": flood_topic(0)}[workload]


# ---------------------------------------------------------------- Gymnasium RecordVideo


def run_gym(path: Path, size: dict, work) -> tuple[Sink, float]:
    """RecordVideo around an env whose step() advances the sim to the next camera frame and
    whose render() returns both cameras side by side (it records frames only, not state)."""
    import gymnasium as gym
    import moviepy  # noqa: F401 - RecordVideo needs it; an ImportError here reads "not installed"
    from gymnasium.wrappers import RecordVideo

    frames = [frame_pool(size["height"], size["width"], cam, POOL) for cam in range(2)]
    envs, dim, steps = size["envs"], size["dim"], size["steps"]
    n_frames = int((steps - 1) / STATE_HZ * CAM_FPS) + 1
    per_frame = np.bincount([int(step / STATE_HZ * CAM_FPS) for step in range(steps)], minlength=n_frames + 1)

    class CameraSim(gym.Env):
        metadata = {"render_modes": ["rgb_array"], "render_fps": CAM_FPS}  # noqa: RUF012 (gym's API)
        observation_space = gym.spaces.Box(-1, 1, (1,))
        action_space = gym.spaces.Discrete(1)
        render_mode = "rgb_array"

        def __init__(self) -> None:
            self.state = np.random.default_rng(2).standard_normal((envs, dim)).astype(np.float32)
            self.frame = 0

        def reset(self, *, seed=None, options=None):
            self.frame = 0
            return np.zeros(1, np.float32), {}

        def step(self, action):
            if work:  # the 100 Hz sim steps that belong to this 30 Hz frame
                for _ in range(per_frame[self.frame]):
                    work(self.state)
            self.frame += 1
            return np.zeros(1, np.float32), 0.0, False, self.frame >= n_frames, {}

        def render(self):
            return np.hstack([frames[cam][self.frame % POOL] for cam in range(2)])

    sink = Sink(path)
    started = time.perf_counter()
    env = RecordVideo(
        CameraSim(), str(path.parent / f"{path.stem}-gym"), name_prefix="gym", disable_logger=True
    )
    env.reset(seed=0)
    truncated = False
    while not truncated:
        _, _, _, truncated, _ = env.step(0)
    env.close()
    elapsed = time.perf_counter() - started
    sink.files = sorted((path.parent / f"{path.stem}-gym").glob("*.mp4"))
    sink.records = n_frames  # the frame rendered at reset() is kept, the one at the last step is not
    return sink, elapsed


# ---------------------------------------------------------------- simrec across processes


def run_graph(path: Path, spec: dict, phase: str) -> tuple[Sink, float, int]:
    """simrec's RecorderNode (what ``simrec record`` runs) in this process, the workload published
    from another. Returns (sink with the file, seconds, messages lost); with phase "loop" the
    seconds are the publisher's loop time, with "flat" until the last message is written."""
    from simrec_node.record import RecorderNode, RecordOptions, TopicSelection

    os.environ["SIMREC_DOMAIN"] = "compare" + uuid.uuid4().hex[:8]
    sink = Sink(path)
    sink.path = path.with_suffix(".mcap")
    sink.files = [sink.path]
    recorder = RecorderNode(RecordOptions(output=sink.path, selection=TopicSelection(all=True)))
    recorder.start()
    publisher = subprocess.Popen(
        [sys.executable, __file__, "--publish", json.dumps({**spec, "phase": phase})],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if publisher.stdout.readline().strip() != "ready":
            raise RuntimeError("the publisher did not start")
        started = time.perf_counter()
        report = json.loads(publisher.stdout.readline())
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            topics = recorder.stats.topics.values()
            if sum(t.written + t.dropped for t in topics) >= report["records"]:
                break
            time.sleep(0.001)
        recorder.stop()
        elapsed = time.perf_counter() - started
        written = sum(
            t.written for name, t in recorder.stats.topics.items() if not name.startswith("/simrec/")
        )
    finally:
        publisher.stdin.close()
        publisher.wait(timeout=30)
    sink.records = report["records"]
    return sink, report["loop_s"] if phase == "loop" else elapsed, report["records"] - written


def publish_main(spec: dict) -> None:
    from simrec_node.graph import Node

    workload, size = spec["workload"], spec["size"]
    work = make_work(size["envs"], size["dim"], spec["work_reps"]) if spec["phase"] == "loop" else None
    with Node("compare_publisher") as node:
        sink = PublisherSink(node)
        topics = (
            [(flood_topic(i), "tensor") for i in range(size["topics"])]
            if workload == "flood"
            else [(STATE_TOPIC, "state")]
            + [(camera_topic(c), "image") for c in range(2 if workload == "cam" else 0)]
        )
        for topic, kind in topics:
            if not sink.publisher(topic, kind).wait_for_subscribers(30):
                sys.exit("no recorder appeared")
        time.sleep(0.5)  # let the subscription settle on every link
        print("ready", flush=True)
        started = time.perf_counter()
        drive(sink, workload, size, work)
        loop_s = time.perf_counter() - started
        print(json.dumps({"loop_s": loop_s, "records": sink.records}), flush=True)
        sys.stdin.read()  # stay up until the recorder has everything


# ---------------------------------------------------------------- one case


def run_phase(spec: dict, phase: str) -> tuple[Sink, float, int]:
    """(sink, seconds from opening the recorder to its file closed, messages lost)."""
    case, workload, size = spec["case"], spec["workload"], spec["size"]
    path = Path(spec["dir"]) / f"{workload}-{case}-{phase}"
    work = make_work(size["envs"], size["dim"], spec["work_reps"]) if phase == "loop" else None
    if case == "simrec-graph":
        return run_graph(path, spec, phase)
    if case == "gym":
        sink, elapsed = run_gym(path, size, work)
        return sink, elapsed, 0
    started = time.perf_counter()
    sink = SINKS[case](path)
    drive(sink, workload, size, work)
    sink.close()
    return sink, time.perf_counter() - started, 0


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: Linux carries that over from the parent
    across fork and exec, so every case would report compare.py's own peak."""
    with open("/proc/self/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    return kib / 1024


def _remove(sink: Sink) -> None:
    for path in sink.files:
        path.unlink(missing_ok=True)
        if path.parent.name.endswith("-gym") and not any(path.parent.iterdir()):
            path.parent.rmdir()


def seek_points(rep: int) -> list[float]:
    """Where a repetition seeks to: ``SEEK_POINTS`` fractions of the log, the same for every case
    of that repetition. One point's time depends on where it falls in its chunk (a message late
    in a chunk decompresses the records before it), so the median of several is the figure."""
    rng = random.Random(rep)
    return [rng.uniform(0.2, 0.8) for _ in range(SEEK_POINTS)]


def run_case(spec: dict) -> dict:
    workload, case = spec["workload"], spec["case"]
    result: dict = {"workload": workload, "case": case, "rep": spec["rep"]}
    if workload != "flood":
        sink, result["loop_s"], _ = run_phase(spec, "loop")
        _remove(sink)
    if case == "none":
        return result
    sink, elapsed, lost = run_phase(spec, "flat")
    result["rss_mb"] = peak_rss_mb()
    result.update(
        flat_s=elapsed,
        lost=lost,
        records=sink.records,
        bytes=payload_bytes(workload, spec["size"]),
        file_bytes=sum(p.stat().st_size for p in sink.files),
        files=[str(p) for p in sink.files],
    )
    started = time.perf_counter()
    result["read_records"] = read_back(case, sink.files)
    result["read_s"] = time.perf_counter() - started
    steps = spec["size"]["steps"] if "steps" in spec["size"] else spec["size"]["count"]
    seeks = []
    for fraction in seek_points(spec["rep"]):
        started = time.perf_counter()
        frame = seek(case, sink.files, seek_topic(workload), fraction, int(fraction * steps))
        if frame is not None:
            seeks.append(time.perf_counter() - started)
    if seeks:
        result["seek_s"] = statistics.median(seeks)
    if not spec.get("keep"):
        _remove(sink)
    return result


def main() -> None:
    if sys.argv[1] == "--publish":
        publish_main(json.loads(sys.argv[2]))
        return
    spec = json.loads(sys.argv[1])
    try:
        result = run_case(spec)
    except ImportError as exc:
        result = {"workload": spec["workload"], "case": spec["case"], "rep": spec["rep"], "missing": exc.name}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
