"""The export opens with LeRobot's own loader (``LeRobotDataset(repo_id, root=DIR)``, offline), and
its frames, states and actions equal the log's.

Needs ``lerobot`` (installed without its dependencies: 0.4.x pins torch<2.11) and what its dataset
module imports: datasets, av, torchvision, torchcodec (which decodes the videos; it loads the
system's FFmpeg libraries), accelerate, draccus, jsonlines. ``.ci/run`` installs them after torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simrec_node.convert import ConvertError
from simrec_node.convert.lerobot import export_lerobot, video_codec
from tests.lerobot_logs import sim_log

_KEEP: list = []  # the torchvision op schemas defined below live as long as the process


def _lerobot_dataset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    torch = pytest.importorskip("torch")
    pytest.importorskip("lerobot")
    try:
        import torchcodec.decoders  # noqa: F401
    except (ImportError, RuntimeError, OSError) as exc:  # not installed, or no FFmpeg libraries to load
        pytest.skip(f"torchcodec cannot decode here: {str(exc).splitlines()[0]}")
    try:
        import torchvision
    except RuntimeError as exc:
        if "torchvision::nms" not in str(exc):
            raise
        # The only torchvision wheel for torch 2.13 on this index is a CUDA build: its C ops do not
        # load over the CPU torch, and torchvision then fails registering fake kernels for two of
        # them. Define their schemas so it imports (LeRobot's dataset uses its transforms only).
        library = torch.library.Library("torchvision", "DEF")
        library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _KEEP.append(library)
        import torchvision  # noqa: F401
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    return LeRobotDataset


@pytest.mark.torch
@pytest.mark.parametrize("vcodec", ["h264", "av1"])
def test_lerobot_loader_reads_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vcodec: str
) -> None:
    pytest.importorskip("pyarrow")
    try:
        video_codec(vcodec)
    except ConvertError as exc:
        pytest.skip(str(exc))
    LeRobotDataset = _lerobot_dataset(monkeypatch, tmp_path)
    logged = sim_log(tmp_path / "sim.mcap", (12, 9, 15))
    root = tmp_path / "dataset"
    export_lerobot([tmp_path / "sim.mcap"], root, task="reach the target", vcodec=vcodec)

    data = LeRobotDataset("simrec/sim", root=root)
    assert len(data) == 36 and data.num_episodes == 3 and data.fps == 50
    assert data.meta.video_keys == ["observation.images.front"]
    assert data.meta.features["observation.images.front"]["info"]["video.codec"] == vcodec
    lengths = np.repeat([0, 1, 2], [12, 9, 15])
    for i in range(len(data)):
        item = data[i]
        np.testing.assert_array_equal(item["observation.state"].numpy(), logged["state"][i])
        np.testing.assert_array_equal(item["action"].numpy(), logged["action"][i])
        assert float(item["next.reward"]) == logged["reward"][i]
        assert int(item["episode_index"]) == lengths[i]
        assert item["task"] == "reach the target"
        image = item["observation.images.front"]
        assert tuple(image.shape) == (3, 48, 64)
        pixels = (image.permute(1, 2, 0).numpy() * 255).round().astype(int)
        distance = np.abs(logged["frame"].astype(int) - pixels).mean(axis=(1, 2, 3))
        assert int(np.argmin(distance)) == i and distance[i] < 8, (i, distance[i])

    # delta_timestamps windows: padded at the episode's edges, never crossing them
    windows = LeRobotDataset(
        "simrec/sim",
        root=root,
        delta_timestamps={"observation.state": [-0.04, -0.02, 0.0], "action": [0.0, 0.02]},
    )
    item = windows[12]  # the first frame of episode 1
    assert item["observation.state_is_pad"].tolist() == [True, True, False]
    np.testing.assert_array_equal(item["observation.state"][-1].numpy(), logged["state"][12])
    np.testing.assert_array_equal(
        item["observation.state"][0].numpy(), logged["state"][12]
    )  # padding repeats
    item = windows[20]  # the last frame of episode 1
    assert item["action_is_pad"].tolist() == [False, True]


@pytest.mark.torch
def test_lerobot_loader_reads_a_merge_of_per_log_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyarrow")
    from simrec_node.convert.lerobot_merge import merge_lerobot

    LeRobotDataset = _lerobot_dataset(monkeypatch, tmp_path)
    a = sim_log(tmp_path / "a.mcap", (10, 12))
    b = sim_log(tmp_path / "b.mcap", (8,), dim=6)
    export_lerobot([tmp_path / "a.mcap"], tmp_path / "part-a")
    export_lerobot([tmp_path / "b.mcap"], tmp_path / "part-b", task="second")
    merge_lerobot([tmp_path / "part-a", tmp_path / "part-b"], tmp_path / "merged")
    data = LeRobotDataset("simrec/merged", root=tmp_path / "merged")
    states = np.concatenate([a["state"], b["state"]])
    frames = np.concatenate([a["frame"], b["frame"]]).astype(int)
    assert len(data) == 30 and data.num_episodes == 3
    for i in range(len(data)):
        item = data[i]
        np.testing.assert_array_equal(item["observation.state"].numpy(), states[i])
        assert item["task"] == ("a" if i < 22 else "second")
        pixels = (item["observation.images.front"].permute(1, 2, 0).numpy() * 255).round().astype(int)
        distance = np.abs(frames - pixels).mean(axis=(1, 2, 3))
        assert distance[i] == distance.min() and distance[i] < 8, (i, distance[i])  # b's frames start over
