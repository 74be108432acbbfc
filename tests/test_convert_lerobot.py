"""simrec convert LOG... -o DIR --format lerobot: the LeRobot v3.0 layout, read back with pyarrow
and imageio's ffmpeg, equal to what was logged; and bad input as one line with nothing left."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simrec_node.cli.main import main
from simrec_node.convert.lerobot import export_lerobot
from tests.lerobot_logs import cartpole_log, sim_log


def _convert(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["convert", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _table(path: Path) -> dict[str, np.ndarray]:
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(path)
    out = {}
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        try:
            values = column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), -1)
        except Exception:  # a plain column
            values = column.to_numpy(zero_copy_only=False)
        out[name] = values
    return out


def _video_frames(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    return np.stack(list(iio.imiter(path, plugin="FFMPEG")))


def _nothing_left(directory: Path) -> None:
    assert not [p.name for p in directory.iterdir() if ".partial-" in p.name or ".old-" in p.name]


def test_in_process_log_round_trip(tmp_path: Path, capsys) -> None:
    pytest.importorskip("pyarrow")
    logged = sim_log(tmp_path / "sim.mcap")
    out = tmp_path / "dataset"
    code, stdout, err = _convert(capsys, str(tmp_path / "sim.mcap"), "-o", str(out), "--format", "lerobot")
    assert code == 0, err
    assert "3 episodes, 60 frames at 50 fps" in stdout
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == [
        "data/chunk-000/file-000.parquet",
        "meta/episodes/chunk-000/file-000.parquet",
        "meta/info.json",
        "meta/stats.json",
        "meta/tasks.parquet",
        "videos/observation.images.front/chunk-000/file-000.mp4",
    ]
    info = json.loads((out / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 50
    assert info["total_episodes"] == 3 and info["total_frames"] == 60
    features = info["features"]
    assert features["observation.state"] == {
        "dtype": "float32",
        "shape": [6],
        "names": [f"qpos.{i}" for i in range(6)],
    }
    assert features["action"]["shape"] == [2] and features["next.reward"]["shape"] == [1]
    video = features["observation.images.front"]
    assert video["dtype"] == "video" and video["shape"] == [48, 64, 3]
    assert video["info"]["video.codec"] == "h264" and "imageio-ffmpeg" in video["info"]["video.encoder"]

    data = _table(out / "data/chunk-000/file-000.parquet")
    np.testing.assert_array_equal(data["observation.state"], logged["state"])
    np.testing.assert_array_equal(data["action"], logged["action"])
    np.testing.assert_array_equal(data["next.reward"], logged["reward"])
    np.testing.assert_array_equal(data["episode_index"], np.repeat([0, 1, 2], [20, 15, 25]))
    np.testing.assert_array_equal(data["frame_index"], np.concatenate([np.arange(n) for n in (20, 15, 25)]))
    np.testing.assert_array_equal(data["index"], np.arange(60))
    assert np.flatnonzero(data["next.done"]).tolist() == [19, 34, 59]
    np.testing.assert_allclose(data["timestamp"], data["frame_index"] / 50, atol=1e-6)

    episodes = _table(out / "meta/episodes/chunk-000/file-000.parquet")
    assert episodes["dataset_from_index"].tolist() == [0, 20, 35]
    assert episodes["dataset_to_index"].tolist() == [20, 35, 60]
    np.testing.assert_allclose(episodes["videos/observation.images.front/from_timestamp"], [0, 0.4, 0.7])
    stats = json.loads((out / "meta/stats.json").read_text())
    np.testing.assert_allclose(
        stats["observation.state"]["mean"], logged["state"].mean(0), rtol=1e-5, atol=1e-6
    )
    assert np.asarray(stats["observation.images.front"]["mean"]).shape == (3, 1, 1)

    frames = _video_frames(out / "videos/observation.images.front/chunk-000/file-000.mp4")
    assert frames.shape == logged["frame"].shape
    error = np.abs(frames.astype(int) - logged["frame"].astype(int)).mean(axis=(1, 2, 3))
    assert error.max() < 8, error.max()  # H.264 (yuv420p): close to each frame ...
    nearest = [
        int(np.argmin(np.abs(logged["frame"].astype(int) - f.astype(int)).mean(axis=(1, 2, 3))))
        for f in frames
    ]
    assert nearest == list(range(60))  # ... and nearest to its own frame: none repeated or shifted
    _nothing_left(tmp_path)


def test_gymnasium_rollout_pairs_each_action_with_the_observation_it_saw(tmp_path: Path) -> None:
    pytest.importorskip("gymnasium")
    pytest.importorskip("pyarrow")
    seen = cartpole_log(tmp_path / "cartpole.mcap")
    result = export_lerobot([tmp_path / "cartpole.mcap"], tmp_path / "ds", task="balance the pole")
    lengths = [len(a) for a in seen["action"]]
    assert result.fps == 50 and result.episodes == 3 and result.frames == sum(lengths)
    assert set(result.features) == {
        "observation.state",
        "action",
        "next.reward",
        "next.done",
        "observation.images.rl_video",
    }
    data = _table(tmp_path / "ds/data/chunk-000/file-000.parquet")
    np.testing.assert_array_equal(data["observation.state"], np.concatenate(seen["obs"]).astype(np.float32))
    np.testing.assert_array_equal(data["action"], np.concatenate(seen["action"]).astype(np.float32))
    np.testing.assert_array_equal(data["next.reward"], np.concatenate(seen["reward"]).astype(np.float32))
    assert np.flatnonzero(data["next.done"]).tolist() == (np.cumsum(lengths) - 1).tolist()
    pq = pytest.importorskip("pyarrow.parquet")
    tasks = pq.read_table(tmp_path / "ds/meta/tasks.parquet")
    assert tasks.column("task").to_pylist() == ["balance the pole"]
    frames = _video_frames(tmp_path / "ds/videos/observation.images.rl_video/chunk-000/file-000.mp4")
    assert len(frames) == sum(lengths)


def test_many_logs_make_one_dataset(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    a = sim_log(tmp_path / "a.mcap", (10, 12))
    b = sim_log(tmp_path / "b.mcap", (8,))
    result = export_lerobot([tmp_path / "a.mcap", tmp_path / "b.mcap"], tmp_path / "ds")
    assert result.episodes == 3 and result.frames == 30
    data = _table(tmp_path / "ds/data/chunk-000/file-000.parquet")
    np.testing.assert_array_equal(data["observation.state"], np.concatenate([a["state"], b["state"]]))
    np.testing.assert_array_equal(data["task_index"], np.repeat([0, 1], [22, 8]))
    episodes = _table(tmp_path / "ds/meta/episodes/chunk-000/file-000.parquet")
    np.testing.assert_allclose(episodes["videos/observation.images.front/from_timestamp"], [0, 0.2, 0.44])
    assert [Path(s).name for s in episodes["simrec/source"]] == ["a.mcap", "a.mcap", "b.mcap"]
    assert len(_video_frames(tmp_path / "ds/videos/observation.images.front/chunk-000/file-000.mp4")) == 30


def test_a_folder_of_runs_gives_each_run_its_own_episodes(tmp_path: Path, capsys) -> None:
    """Two runs side by side in one directory, both from sim time 0: read as one log, their frames
    would interleave on the sim-time axis; each is a log of its own, as if named one by one."""
    pytest.importorskip("pyarrow")
    runs = tmp_path / "runs"
    runs.mkdir()
    a = sim_log(runs / "a.mcap", (10, 12))
    b = sim_log(runs / "b.mcap", (8,))
    code, out, err = _convert(capsys, str(runs), "-o", str(tmp_path / "folder"), "--format", "lerobot")
    assert code == 0, err
    assert "3 episodes, 30 frames at 50 fps from 2 logs" in out
    export_lerobot([runs / "a.mcap", runs / "b.mcap"], tmp_path / "files")
    folder = _table(tmp_path / "folder/data/chunk-000/file-000.parquet")
    files = _table(tmp_path / "files/data/chunk-000/file-000.parquet")
    np.testing.assert_array_equal(folder["observation.state"], np.concatenate([a["state"], b["state"]]))
    for key in ("observation.state", "action", "episode_index", "frame_index", "timestamp"):
        np.testing.assert_array_equal(folder[key], files[key])
    episodes = _table(tmp_path / "folder/meta/episodes/chunk-000/file-000.parquet")
    assert [Path(s).name for s in episodes["simrec/source"]] == ["a.mcap", "a.mcap", "b.mcap"]


def test_mapping_file_and_flags(tmp_path: Path, capsys) -> None:
    pytest.importorskip("pyarrow")
    logged = sim_log(tmp_path / "sim.mcap", (10, 10), camera=False)
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "fps: 25\n"
        "task: reach\n"
        "features:\n"
        "  observation.state: /sim/state:tensors.qpos\n"
        "  action: {topic: sim/action}\n"
        "  next.reward: /sim/state:tensors.reward\n"
    )
    out = tmp_path / "ds"
    code, stdout, err = _convert(
        capsys, str(tmp_path / "sim.mcap"), "-o", str(out), "--format", "lerobot", "--mapping", str(mapping),
        "--map", "next.done=/sim/state:tensors.done",
    )  # fmt: skip
    assert code == 0, err
    assert "2 episodes, 10 frames at 25 fps" in stdout
    data = _table(out / "data/chunk-000/file-000.parquet")
    # 25 fps over a 50 Hz log: every other step, back from each episode's last step
    steps = np.r_[1:10:2, 11:20:2]
    np.testing.assert_array_equal(data["observation.state"], logged["state"][steps])
    np.testing.assert_array_equal(data["next.reward"], logged["reward"][steps])
    assert np.flatnonzero(data["next.done"]).tolist() == [4, 9]
    info = json.loads((out / "meta/info.json").read_text())
    assert info["fps"] == 25 and info["video_path"] is None
    assert info["simrec"]["logs"][0]["mapping"]["next.done"] == "/sim/state:tensors.done"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--map", "action=/sim/nope"], "topic '/sim/nope' is not in"),
        (
            ["--map", "action=/sim/action:velocity"],
            "/sim/action has no numeric field velocity; its fields: data",
        ),
        (["--map", "observation.pose=/sim/state"], "unknown feature 'observation.pose'"),
        (["--fps", "12.5"], "--fps must be a whole positive number"),
        (["--map", "next.reward=/episodes:episode_return"], "nothing to write: "),  # one per episode
        (["--map", "next.reward=/sim/state:tensors.qpos"], "next.reward takes one value per frame"),
        (["--map", "observation.images.x=/sim/state"], "/sim/state is not an image topic"),
    ],
)
def test_bad_mapping_is_one_line(tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    pytest.importorskip("pyarrow")
    sim_log(tmp_path / "sim.mcap", (5,), camera=False)
    code, _, err = _convert(
        capsys, str(tmp_path / "sim.mcap"), "-o", str(tmp_path / "ds"), "--format", "lerobot", *argv
    )
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "ds").exists()
    _nothing_left(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fps: fast\nfeatures: {}\n", "fps must be a number of frames per second, not 'fast'"),
        (
            "features:\n  action: {topic: /sim/action, sample: later}\n",
            "sample must be one of hold, previous",
        ),
        ("features: [a, b]\n", "expected 'features:' mapping feature keys to topics"),
        ("feature:\n  action: /sim/action\n", "unknown setting(s) feature"),
        ("features:\n  action: [1, 2\n", "cannot read mapping file"),
    ],
)
def test_bad_mapping_file_is_one_line(tmp_path: Path, capsys, text: str, message: str) -> None:
    pytest.importorskip("pyarrow")
    sim_log(tmp_path / "sim.mcap", (5,), camera=False)
    (tmp_path / "map.yaml").write_text(text)
    code, _, err = _convert(
        capsys, str(tmp_path / "sim.mcap"), "-o", str(tmp_path / "ds"), "--format", "lerobot",
        "--mapping", str(tmp_path / "map.yaml"),
    )  # fmt: skip
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "ds").exists()


def test_camera_of_mixed_sizes_is_refused(tmp_path: Path, capsys) -> None:
    pytest.importorskip("pyarrow")
    sim_log(tmp_path / "sim.mcap", (20,), sizes=((48, 64), (32, 40)))
    code, _, err = _convert(
        capsys, str(tmp_path / "sim.mcap"), "-o", str(tmp_path / "ds"), "--format", "lerobot"
    )
    assert code == 2 and "/camera/front holds frames of more than one size (the first is 64x48)" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "ds").exists()
    _nothing_left(tmp_path)


def test_log_without_episodes_is_refused(tmp_path: Path, capsys) -> None:
    pytest.importorskip("pyarrow")
    sim_log(tmp_path / "sim.mcap", (5,), episodes=False)
    code, _, err = _convert(
        capsys, str(tmp_path / "sim.mcap"), "-o", str(tmp_path / "ds"), "--format", "lerobot"
    )
    assert code == 2 and "records no episodes" in err and "rec.episode_end" in err
    assert not (tmp_path / "ds").exists()
    _nothing_left(tmp_path)


def test_output_directory_that_holds_something_else(tmp_path: Path, capsys) -> None:
    pytest.importorskip("pyarrow")
    sim_log(tmp_path / "sim.mcap", (5,), camera=False)
    out = tmp_path / "ds"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    for extra in ([], ["--overwrite"]):
        code, _, err = _convert(
            capsys, str(tmp_path / "sim.mcap"), "-o", str(out), "--format", "lerobot", *extra
        )
        assert code == 2 and "holds other files (notes.txt), not a LeRobot dataset" in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    # a dataset is replaced only with --overwrite, and then whole
    code, _, err = _convert(
        capsys, str(tmp_path / "sim.mcap"), "-o", str(tmp_path / "ds2"), "--format", "lerobot"
    )
    assert code == 0, err
    code, _, err = _convert(
        capsys, str(tmp_path / "sim.mcap"), "-o", str(tmp_path / "ds2"), "--format", "lerobot"
    )
    assert code == 2 and "already holds a dataset" in err
    code, _, err = _convert(
        capsys, str(tmp_path / "sim.mcap"), "-o", str(tmp_path / "ds2"), "--format", "lerobot", "--overwrite"
    )
    assert code == 0, err
    _nothing_left(tmp_path)


def test_vector_rollout_gives_one_episode_per_env_episode(tmp_path: Path) -> None:
    gym = pytest.importorskip("gymnasium")
    pytest.importorskip("pyarrow")
    from simrec_node.integrations import RecordVectorRollout

    env = RecordVectorRollout(
        gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync"), tmp_path / "v.mcap"
    )
    obs, _ = env.reset(seed=1)
    rng = np.random.default_rng(0)
    seen: dict[int, list[list]] = {0: [[]], 1: [[]]}  # per env, per episode: (obs, action)
    autoreset = np.zeros(2, bool)  # NEXT_STEP: the step after an end only resets that env
    for _ in range(120):
        actions = rng.integers(0, 2, 2)
        for j in range(2):
            if autoreset[j]:
                seen[j].append([])
            else:
                seen[j][-1].append((obs[j].copy(), actions[j]))
        obs, _, terminated, truncated, _ = env.step(actions)
        autoreset = terminated | truncated
    env.close()
    result = export_lerobot([tmp_path / "v.mcap"], tmp_path / "ds")
    assert "observation.images.rl_video" not in result.features  # a vector log's frames show env 0 only
    episodes = _table(tmp_path / "ds/meta/episodes/chunk-000/file-000.parquet")
    data = _table(tmp_path / "ds/data/chunk-000/file-000.parquet")
    assert result.episodes == len(episodes["episode_index"]) >= 4
    assert set(episodes["simrec/env_index"].tolist()) == {0, 1}
    for index, env_index, number in zip(
        episodes["episode_index"], episodes["simrec/env_index"], episodes["simrec/episode_index"], strict=True
    ):
        expected = seen[int(env_index)][int(number)]
        rows = data["episode_index"] == index
        np.testing.assert_array_equal(data["observation.state"][rows], np.stack([o for o, _ in expected]))
        np.testing.assert_array_equal(data["action"][rows], np.array([a for _, a in expected], np.float32))


def test_merge_gives_the_dataset_one_export_gives(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    from simrec_node.convert.lerobot_merge import merge_lerobot

    sim_log(tmp_path / "a.mcap", (10, 12))
    sim_log(tmp_path / "b.mcap", (8, 9))
    export_lerobot([tmp_path / "a.mcap", tmp_path / "b.mcap"], tmp_path / "whole")
    for name in ("a", "b"):  # as per-log tasks (Ray) write them
        export_lerobot([tmp_path / f"{name}.mcap"], tmp_path / f"part-{name}")
    result = merge_lerobot([tmp_path / "part-a", tmp_path / "part-b"], tmp_path / "merged")
    assert result.episodes == 4 and result.frames == 39
    whole = _table(tmp_path / "whole/data/chunk-000/file-000.parquet")
    merged = _table(tmp_path / "merged/data/chunk-000/file-000.parquet")
    assert whole.keys() == merged.keys()
    for key, values in whole.items():
        np.testing.assert_array_equal(merged[key], values, err_msg=key)
    whole_eps = _table(tmp_path / "whole/meta/episodes/chunk-000/file-000.parquet")
    merged_eps = _table(tmp_path / "merged/meta/episodes/chunk-000/file-000.parquet")
    for key, values in whole_eps.items():
        if values.dtype.kind in "if":  # indices, lengths, video times, per-episode stats
            np.testing.assert_allclose(merged_eps[key], values, err_msg=key)
    whole_stats = json.loads((tmp_path / "whole/meta/stats.json").read_text())
    merged_stats = json.loads((tmp_path / "merged/meta/stats.json").read_text())
    for key in ("observation.state", "action", "next.reward"):
        for stat in ("min", "max", "mean", "std", "count"):
            np.testing.assert_allclose(merged_stats[key][stat], whole_stats[key][stat], rtol=1e-6, atol=1e-9)
    info = json.loads((tmp_path / "merged/meta/info.json").read_text())
    assert info["total_episodes"] == 4 and info["total_frames"] == 39 and info["total_tasks"] == 2
    whole_frames = _video_frames(tmp_path / "whole/videos/observation.images.front/chunk-000/file-000.mp4")
    merged_frames = _video_frames(tmp_path / "merged/videos/observation.images.front/chunk-000/file-000.mp4")
    assert merged_frames.shape == whole_frames.shape
    assert np.abs(merged_frames.astype(int) - whole_frames.astype(int)).mean() < 2


def test_merge_refuses_parts_that_disagree(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    from simrec_node.convert import ConvertError
    from simrec_node.convert.lerobot_merge import merge_lerobot

    sim_log(tmp_path / "a.mcap", (10,))
    export_lerobot([tmp_path / "a.mcap"], tmp_path / "p50")
    export_lerobot([tmp_path / "a.mcap"], tmp_path / "p25", fps=25)
    with pytest.raises(ConvertError, match="other features or fps"):
        merge_lerobot([tmp_path / "p50", tmp_path / "p25"], tmp_path / "m")
    assert not (tmp_path / "m").exists()
    _nothing_left(tmp_path)


def test_log_without_sim_time_is_refused(tmp_path: Path, capsys) -> None:
    pytest.importorskip("pyarrow")
    from simrec_node import Recorder

    with Recorder(tmp_path / "wall.mcap") as rec:  # no sim_time: publish times are the wall clock
        for step in range(5):
            rec.log("sim/state", np.full(3, step, np.float32), step=step)
            rec.log("sim/action", np.zeros(2, np.float32), step=step)
        rec.episode_end(0, return_=0.0)
    code, _, err = _convert(
        capsys, str(tmp_path / "wall.mcap"), "-o", str(tmp_path / "ds"), "--format", "lerobot"
    )
    assert code == 2 and "do not carry sim time" in err and "sim_time=" in err
    assert not (tmp_path / "ds").exists()
    _nothing_left(tmp_path)


def test_logs_of_other_features_are_refused(tmp_path: Path, capsys) -> None:
    pytest.importorskip("pyarrow")
    sim_log(tmp_path / "a.mcap", (5,), camera=False)
    sim_log(tmp_path / "b.mcap", (5,), camera=False, dim=4)
    code, _, err = _convert(
        capsys,
        str(tmp_path / "a.mcap"),
        str(tmp_path / "b.mcap"),
        "-o",
        str(tmp_path / "ds"),
        "--format",
        "lerobot",
    )
    assert code == 2 and "(observation.state of shape [4])" in err and "map them alike" in err
    assert not (tmp_path / "ds").exists()
    _nothing_left(tmp_path)


def test_episodes_a_camera_missed_are_left_out_and_said(tmp_path: Path, capsys) -> None:
    pytest.importorskip("gymnasium")
    pytest.importorskip("pyarrow")
    seen = cartpole_log(tmp_path / "cartpole.mcap", trigger=lambda episode: episode == 1)  # frames of one
    log, out = str(tmp_path / "cartpole.mcap"), str(tmp_path / "ds")
    code, stdout, err = _convert(capsys, log, "-o", out, "--format", "lerobot", "-q")
    assert code == 0 and stdout == ""
    assert "2 episodes left out: /camera/rl_video has no message for observation.images.rl_video" in err
    assert "--map observation.images.rl_video= drops the feature instead" in err
    data = _table(tmp_path / "ds/data/chunk-000/file-000.parquet")
    np.testing.assert_array_equal(data["observation.state"], seen["obs"][1].astype(np.float32))
    code, _, err = _convert(
        capsys, log, "-o", out, "--format", "lerobot", "--overwrite", "--map", "observation.images.rl_video="
    )
    assert code == 0 and "left out" not in err
    info = json.loads((tmp_path / "ds/meta/info.json").read_text())
    assert info["total_episodes"] == 3 and info["video_path"] is None
