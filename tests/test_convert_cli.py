"""``simrec convert`` end to end, as a user runs it: a real demo recording, converted in a subprocess."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from simrec_node.info import summarize
from tests.conftest import REPO, simrec_command


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        simrec_command(*args), cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def demo_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.mcap"
    domain = "t" + uuid.uuid4().hex[:12]
    done = _run("demo", "--record", str(path), "--duration", "3", "--domain", domain, "--envs", "4")
    assert done.returncode == 0, done.stderr
    return path


def test_demo_log_to_npz(demo_log: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo.npz"
    done = _run("convert", str(demo_log), "-o", str(out), "--align", "/sim/state")
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and "skipped" in done.stdout  # scene strings are listed, not lost
    counts = {t.topic: t.count for t in summarize(demo_log).topics}
    with np.load(out) as z:
        meta = json.loads(str(z["__meta__"]))
        rows = counts["/sim/state"]
        assert z["time"].shape == (rows,)
        assert (
            z["/sim/state/tensors.qpos"].shape == (rows, 4, 2)
            and z["/sim/state/tensors.qpos"].dtype == np.float32
        )
        assert z["/sim/state/tensors.done"].shape == (rows, 4) and z["/sim/state/tensors.done"].dtype == bool
        assert z["/sim/state/episode_index"].shape == (rows, 4)
        assert z["/sim/reward/values.mean_reward"].shape == (rows,)
        assert np.all(np.diff(z["/sim/state/step"].astype(np.int64)) > 0)
        assert meta["topics"]["/clock"]["messages"] == counts["/clock"]
        assert any(k.startswith("/sim/scene/") for k in meta["skipped"])


def test_demo_cameras_to_mp4_directory(demo_log: Path, tmp_path: Path) -> None:
    done = _run("convert", str(demo_log), "-o", f"{tmp_path}/", "--overlay")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["camera_depth.mp4", "camera_rgb.mp4"]
    counts = {t.topic: t.count for t in summarize(demo_log).topics}
    reader = imageio_ffmpeg.read_frames(str(tmp_path / "camera_rgb.mp4"))
    meta = next(reader)
    frames = sum(1 for _ in reader)
    # the rate comes from the recorded timestamps (30 Hz, loaded machines jitter)
    assert meta["size"] == (320, 240) and 27 <= meta["fps"] <= 33
    # constant rate output: jittery frames may repeat or drop, a few at most
    assert abs(frames - counts["/camera/rgb"]) <= max(3, counts["/camera/rgb"] // 10)


def test_bad_inputs_one_line_and_exit_code(demo_log: Path, tmp_path: Path) -> None:
    for args, needle in [
        (["-o", str(tmp_path / "x.npz"), "-t", "/nope"], "image topics: /camera/depth, /camera/rgb"),
        (["-o", str(tmp_path / "x.mp4"), "-t", "/sim/state"], "not an image topic"),
        (["-o", str(tmp_path / "missing" / "x.mp4")], "does not exist"),
    ]:
        done = _run("convert", str(demo_log), *args)
        assert done.returncode == 2 and needle in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_import_simrec_node_stays_cheap() -> None:
    code = "import sys, simrec_node; assert not {'simrec_node.convert', 'numpy'} & set(sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO, check=False).returncode == 0


def test_reading_into_numpy_loads_no_writer(demo_log: Path) -> None:
    """``to_numpy`` and ``collect`` need the reader alone: the MP4, Parquet, NPZ and LeRobot
    writers (and imageio's ffmpeg) load only when a conversion asks for them."""
    code = (
        "import sys, simrec_node\n"
        "from simrec_node.convert import collect\n"
        f"reader = simrec_node.open({str(demo_log)!r})\n"
        "tables = collect(reader).tables\n"
        "assert tables and all(t.rows for t in tables.values()), tables\n"
        "writers = {'mp4', 'clips', 'parquet', 'npz', 'lerobot', 'lerobot_merge'}\n"
        "loaded = {m.rsplit('.', 1)[-1] for m in sys.modules if m.startswith('simrec_node.convert.')}\n"
        "assert not loaded & writers and 'imageio_ffmpeg' not in sys.modules, loaded & writers\n"
        "from simrec_node.convert import convert_to_npz, META_KEY\n"
        "assert callable(convert_to_npz) and META_KEY == '__meta__'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_interrupted_convert_leaves_no_file(tmp_path: Path) -> None:
    from simrec_node.msgs import encode_raw_image
    from tests.convert_logs import write_log

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)  # noise: slow to encode
    log = write_log(
        tmp_path / "long.mcap",
        [("/cam", "foxglove.RawImage", 10**18 + i * 33_333_333, encode_raw_image(frame)) for i in range(900)],
        compression="none",
        chunk_size=1 << 20,
    )
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = subprocess.Popen(
        simrec_command("convert", str(log), "-o", str(out_dir / "v.mp4")),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not any(out_dir.iterdir()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "conversion finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert list(out_dir.iterdir()) == []  # neither v.mp4 nor the temporary file
