"""Unit tests for ``--ros-args`` parsing (``simrec_node.graph.node_args``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simrec_node.graph.node_args import NodeArgs, NodeArgsError, parse_node_args


def test_no_ros_args_leaves_argv_alone() -> None:
    args = parse_node_args(["--envs", "4", "-p", "x"])
    assert args.rest_argv == ["--envs", "4", "-p", "x"]
    assert args == NodeArgs(rest_argv=["--envs", "4", "-p", "x"])
    assert not args.given


def test_names_params_and_remaps() -> None:
    args = parse_node_args(
        [
            "--quiet",
            "--ros-args",
            "__node:=sim",
            "__ns:=/robot1",
            "-p",
            "num_envs:=8",
            "--param",
            "gains:=[1, 2.5]",
            "-r",
            "sim/state:=/robot/state",
            "--remap",
            "__ns:=/robot2",
            "-p",
            "num_envs:=9",
            "--",
            "tail",
        ]
    )
    assert args.name == "sim"
    assert args.namespace == "/robot2"  # later wins, and -r __ns:= works as in ROS 2
    assert args.parameter_overrides == {"num_envs": "9", "gains": [1, 2.5]}
    assert args.remaps == {"sim/state": "/robot/state"}
    assert args.rest_argv == ["--quiet", "tail"]
    assert args.given


def test_remap_topic_follows_namespace_and_name() -> None:
    args = parse_node_args(["--ros-args", "__ns:=/r", "-r", "state:=/elsewhere", "-r", "~/x:=y"])
    assert args.remap_topic("state", "rec") == "/elsewhere"
    assert args.remap_topic("/abs", "rec") == "/abs"
    assert args.remap_topic("other", "rec") == "/r/other"
    assert args.remap_topic("~/x", "rec") == "/r/y"


def test_params_file_ros2_layout(tmp_path: Path) -> None:
    params = tmp_path / "p.yaml"
    params.write_text(
        "/**:\n  ros__parameters: {seed: 1, rate_hz: 10.0}\n"
        "demo_sim:\n  ros__parameters: {rate_hz: 50.0}\n"
        "other:\n  ros__parameters: {seed: 99}\n"
    )
    args = parse_node_args(["--ros-args", "--params-file", str(params), "-p", "seed:=2"], "demo_sim")
    assert args.parameter_overrides == {"seed": "2", "rate_hz": 50.0}
    renamed = parse_node_args(["--ros-args", "__node:=other", "--params-file", str(params)], "demo_sim")
    assert renamed.parameter_overrides == {"seed": 99, "rate_hz": 10.0}


def test_params_file_flat_mapping(tmp_path: Path) -> None:
    params = tmp_path / "p.yaml"
    params.write_text("num_envs: 3\ncamera_rate_hz: 0\n")
    args = parse_node_args(["--ros-args", "--params-file", str(params)])
    assert args.parameter_overrides == {"num_envs": 3, "camera_rate_hz": 0}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ros-args", "-p"], "-p needs a value"),
        (["--ros-args", "-p", "novalue"], "expected -p NAME:=VALUE"),
        (["--ros-args", "-r", ":=x"], "expected -r FROM:=TO"),
        (["--ros-args", "__bogus:=1"], "unknown special name '__bogus'"),
        (["--ros-args", "--verbose"], "unexpected '--verbose'"),
        (["--ros-args", "--params-file", "/nonexistent/p.yaml"], "cannot read it"),
    ],
)
def test_malformed_sections(argv: list[str], message: str) -> None:
    with pytest.raises(NodeArgsError, match=message.replace("(", r"\(")):
        parse_node_args(argv)
