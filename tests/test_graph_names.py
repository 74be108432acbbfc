"""Name resolution, parameters, QoS and gap counting: the graph's pure rules."""

from __future__ import annotations

import pytest

from simrec_node.graph import GapCounter, InvalidNameError, ParameterError, Parameters, QoS, resolve_topic
from simrec_node.graph.names import (
    key_to_topic,
    normalize_namespace,
    topic_to_key,
    validate_domain,
    validate_node_name,
)


@pytest.mark.parametrize(
    ("topic", "namespace", "expected"),
    [
        ("/abs/state", "/robot1", "/abs/state"),
        ("state", "/robot1", "/robot1/state"),
        ("state", "/", "/state"),
        ("~/debug", "/robot1", "/robot1/sim/debug"),
        ("cam/rgb/", "robot1/", "/robot1/cam/rgb"),
    ],
)
def test_topics_resolve_like_ros2(topic: str, namespace: str, expected: str) -> None:
    assert resolve_topic(topic, namespace, "sim") == expected


@pytest.mark.parametrize(
    "bad", ["", "/", "/a//b", "//a", "/1abc", "/a b", "/a/*", "/a-b", "/a\n", "a\n", "~"]
)
def test_bad_topic_names_are_refused(bad: str) -> None:
    with pytest.raises(InvalidNameError):
        resolve_topic(bad)


def test_private_names_need_a_node() -> None:
    assert resolve_topic("~/x", "/", "rec") == "/rec/x"
    with pytest.raises(InvalidNameError, match="'~' stands for a node"):
        resolve_topic("~/x")  # was "//x", recorded as such


@pytest.mark.parametrize("bad", ["sim\n", "sim/x", "", "1sim"])
def test_node_names_with_a_newline_or_slash_are_refused(bad: str) -> None:
    with pytest.raises(InvalidNameError, match="invalid node name"):
        validate_node_name(bad)


@pytest.mark.parametrize("bad", ["7\n", "", "a b", "a/b"])
def test_domains_with_a_newline_are_refused(bad: str) -> None:
    with pytest.raises(InvalidNameError, match="invalid graph domain"):
        validate_domain(bad)


def test_namespaces_with_a_newline_are_refused() -> None:
    with pytest.raises(InvalidNameError, match="invalid namespace"):
        normalize_namespace("/robot1\n")


def test_wildcards_only_where_allowed() -> None:
    assert resolve_topic("/a/**", allow_wildcards=True) == "/a/**"
    with pytest.raises(InvalidNameError, match="invalid topic name"):
        resolve_topic("/a/**")


def test_topic_keys_round_trip() -> None:
    key = topic_to_key("7", "/robot/state")
    assert key == "simrec/7/t/robot/state"
    assert key_to_topic("7", key) == "/robot/state"


def test_parameters_keep_the_type_of_their_default() -> None:
    params = Parameters({"num_envs": "64", "rate_hz": 50, "verbose": "true", "typo": 1})
    assert params.declare("num_envs", 16) == 64
    assert params.declare("rate_hz", 100.0) == 50.0
    assert params.declare("verbose", False) is True
    assert params.declare("name", "demo") == "demo"
    assert params.undeclared_overrides() == ["typo"]
    with pytest.raises(ParameterError, match="expects int"):
        params.set("num_envs", "many")
    with pytest.raises(ParameterError, match="not declared"):
        params.get("missing")


def test_gap_counter_counts_missing_sequence_numbers_per_publisher() -> None:
    gaps = GapCounter()
    for publisher, sequence in [(1, 5), (1, 6), (1, 9), (2, 0), (2, 1), (1, 10), (2, 4), (1, 8)]:
        gaps.observe(publisher, sequence)
    assert gaps.missed == 2 + 2  # 7, 8 from publisher 1 (8 arrives late, not undone); 2, 3 from publisher 2
    assert gaps.skipped_before_first == 5


def test_qos_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="depth"):
        QoS(depth=0)
