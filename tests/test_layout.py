"""``simrec layout``: a Foxglove layout (current app's JSON, or Studio 1.x/Lichtblick's) for the
topics of a real MCAP log or of the live graph."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import numpy as np

from simrec_node.msgs import (
    CompressedImage,
    FrameTransforms,
    RecorderStats,
    Scalars,
    StateBatch,
    descriptor_set_of,
    encode_state_batch,
)
from simrec_node.record import McapWriter

from .conftest import simrec_command, start_process


def write_log(path: Path) -> Path:
    state = encode_state_batch(
        {"qpos": np.arange(6, dtype=np.float32).reshape(3, 2), "done": np.zeros(3, bool)}, step=1, num_envs=3
    )
    records = [
        ("/sim/state", StateBatch, state),
        ("/camera/rgb", CompressedImage, CompressedImage(format="jpeg").SerializeToString()),
        ("/tf", FrameTransforms, FrameTransforms().SerializeToString()),
        ("/sim/reward", Scalars, Scalars(values={"mean_reward": 1.0, "falls": 0.0}).SerializeToString()),
        ("/simrec/stats", RecorderStats, RecorderStats().SerializeToString()),
    ]
    with McapWriter(path) as w:
        for i, (topic, cls, data) in enumerate(records):
            schema = w.add_schema(cls.DESCRIPTOR.full_name, "protobuf", descriptor_set_of(cls))
            w.write(w.add_channel(topic, "protobuf", schema), 0, 1_000 + i, 1_000 + i, data)
    return path


def layout(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(simrec_command("layout", *args), capture_output=True, text=True, timeout=60)


def panels(node: dict) -> list[dict]:
    """The panels of a current-Foxglove layout's content tree, in order."""
    if node["type"] == "panel":
        return [node]
    return [panel for item in node["items"] for panel in panels(item["content"])]


def test_a_log_gives_plots_images_3d_topic_graph_and_drops(tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.mcap")
    output = tmp_path / "layout.json"
    done = layout(str(log), "-o", str(output))
    assert done.returncode == 0, done.stderr
    document = json.loads(output.read_text())
    assert document["version"] == 1
    found = panels(document["content"])
    by_type: dict[str, list[dict]] = {}
    for panel in found:
        by_type.setdefault(panel["panelType"], []).append(panel)
    plots = {p["title"]: [s["value"] for s in p["config"]["paths"]] for p in by_type["Plot"]}
    assert plots == {
        "/sim/state qpos": [f"/sim/state.tensors.qpos.float32_data[{i}]" for i in range(4)],
        "/sim/reward": ["/sim/reward.values.falls", "/sim/reward.values.mean_reward"],
        "/simrec/stats drops": [
            "/simrec/stats.gap_dropped",
            "/simrec/stats.queue_dropped",
            "/simrec/stats.disk_dropped",
        ],
    }  # no plot of the bool tensor "done"
    assert [p["config"]["imageMode"]["imageTopic"] for p in by_type["Image"]] == ["/camera/rgb"]
    assert list(by_type["ThreeDee"][0]["config"]["topics"]) == ["/tf"]
    assert len(by_type["TopicGraph"]) == 1


def test_the_lichtblick_format_places_every_panel_once(tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.mcap")
    done = layout(str(log), "--format", "lichtblick")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert {"configById", "layout", "globalVariables", "userNodes", "playbackConfig"} <= set(document)

    def leaves(node: str | dict) -> list[str]:
        if isinstance(node, str):
            return [node]
        assert 0 < node["splitPercentage"] < 100 and node["direction"] in ("row", "column")
        return leaves(node["first"]) + leaves(node["second"])

    placed = leaves(document["layout"])
    assert sorted(placed) == sorted(document["configById"]) and len(set(placed)) == len(placed)
    kinds = sorted(panel_id.split("!")[0] for panel_id in placed)
    assert kinds == ["3D", "Image", "Plot", "Plot", "Plot", "TopicGraph"]
    qpos = next(c for c in document["configById"].values() if c.get("title") == "/sim/state qpos")
    assert qpos["paths"][0] == {
        "value": "/sim/state.tensors.qpos.float32_data[0]",
        "enabled": True,
        "timestampMethod": "receiveTime",
    }


def test_live_layout_finds_the_demos_topics(domain: str) -> None:
    demo = start_process(simrec_command("demo", "--duration", "30", "--envs", "2", "-q"), domain)
    try:
        done = layout("--live", "--wait", "5", "--domain", domain)  # waits for the demo's topics
    finally:
        demo.send_signal(signal.SIGINT)
        demo.communicate(timeout=30)
    assert done.returncode == 0, done.stderr
    found = panels(json.loads(done.stdout)["content"])
    titles = {p.get("title") for p in found}
    assert {"/sim/state qpos", "/camera/rgb", "/simrec/stats drops", "3D"} <= titles, titles


def test_a_layout_needs_a_log_or_live_not_both(tmp_path: Path) -> None:
    for args in ((), (str(tmp_path / "x.mcap"), "--live")):
        done = layout(*args)
        assert done.returncode == 2 and "needs a log (FILE...) or --live" in done.stderr, done.stderr
    missing = layout(str(tmp_path / "none.mcap"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr, missing.stderr
