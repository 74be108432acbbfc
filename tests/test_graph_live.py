"""The node graph on real Zenoh sessions: in one process and across processes."""

from __future__ import annotations

import queue
import threading
import time

import pytest

from simrec_node.graph import BEST_EFFORT, LATCHED, Node, RawMessage
from simrec_node.msgs import Clock, Scalars

from .conftest import drain, publisher_command, start_process, wait_for_line


def test_typed_publish_subscribe_in_one_process(domain: str) -> None:
    received: queue.Queue = queue.Queue()
    with Node("talker") as talker, Node("listener") as listener:
        listener.create_subscription(Clock, "/clock", received.put)
        publisher = talker.create_publisher(Clock, "/clock")
        assert publisher.wait_for_subscribers(10)
        for step in range(50):
            publisher.publish(Clock(step=step))
        messages = drain(received, 50)
    assert [m.step for m in messages] == list(range(50))
    assert all(isinstance(m, Clock) for m in messages)


def test_raw_subscription_sees_stamps_sequences_and_schema(domain: str) -> None:
    received: queue.Queue = queue.Queue()
    with Node("talker", "/robot1") as talker, Node("listener") as listener:
        listener.create_subscription(None, "/robot1/**", received.put)
        publisher = talker.create_publisher(Scalars, "stats")
        assert publisher.wait_for_subscribers(10)
        for step in range(5):
            publisher.publish(Scalars(step=step), stamp_ns=1_000 + step)
        messages: list[RawMessage] = drain(received, 5)
        type_info = listener.lookup_type("simrec.Scalars")
    assert [m.topic for m in messages] == ["/robot1/stats"] * 5
    assert [m.sequence for m in messages] == list(range(5))
    assert [m.publish_time_ns for m in messages] == [1_000 + i for i in range(5)]
    assert {m.publisher_id for m in messages} == {publisher.publisher_id}
    assert all(m.type_name == "simrec.Scalars" for m in messages)
    assert type_info is not None
    assert type_info.message_class.FromString(messages[3].data).step == 3


def test_one_wildcard_subscription_tells_publishers_apart(domain: str) -> None:
    """Topic and type are read once per publisher: each message must still carry its own."""
    received: queue.Queue = queue.Queue()
    with Node("talker") as talker, Node("listener") as listener:
        listener.create_subscription(None, "/**", received.put)
        clock = talker.create_publisher(Clock, "/a/clock")
        stats = talker.create_publisher(Scalars, "/b/stats")
        again = talker.create_publisher(Clock, "/b/stats")  # the same topic, another type
        for publisher in (clock, stats, again):
            assert publisher.wait_for_subscribers(10)
        for step in range(3):
            clock.publish(Clock(step=step))
            stats.publish(Scalars(step=step))
            again.publish(Clock(step=step))
        messages: list[RawMessage] = drain(received, 9)
    seen = {(m.publisher_id, m.topic, m.type_name) for m in messages}
    assert seen == {
        (clock.publisher_id, "/a/clock", "simrec.Clock"),
        (stats.publisher_id, "/b/stats", "simrec.Scalars"),
        (again.publisher_id, "/b/stats", "simrec.Clock"),
    }


def test_threads_sharing_a_publisher_get_distinct_sequence_numbers(domain: str) -> None:
    received: queue.Queue = queue.Queue()
    with Node("talker") as talker, Node("listener") as listener:
        listener.create_subscription(None, "/shared", received.put)
        publisher = talker.create_publisher(Clock, "/shared")
        assert publisher.wait_for_subscribers(10)
        threads = [
            threading.Thread(target=lambda: [publisher.publish(Clock(step=i)) for i in range(200)])
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        messages: list[RawMessage] = drain(received, 800)
    assert sorted(m.sequence for m in messages) == list(range(800))
    assert publisher.sequence == 800


def test_late_joiner_gets_history_with_transient_local(domain: str) -> None:
    received: queue.Queue = queue.Queue()
    with Node("talker") as talker, Node("listener") as listener:
        publisher = talker.create_publisher(Clock, "/latched", LATCHED)
        assert not publisher.has_subscribers
        for step in range(3):
            publisher.publish(Clock(step=step))
        time.sleep(0.3)
        listener.create_subscription(Clock, "/latched", received.put, LATCHED)
        messages = drain(received, 1, timeout_s=10)
        matched = publisher.wait_for_subscribers(10)  # a latched publisher knows its subscribers too
    assert [m.step for m in messages] == [2]
    assert matched


def test_best_effort_subscription_keeps_the_newest(domain: str) -> None:
    received: list[int] = []

    def slow(message: Clock) -> None:
        time.sleep(0.05)
        received.append(message.step)

    with Node("talker") as talker, Node("listener") as listener:
        listener.create_subscription(Clock, "/fast", slow, BEST_EFFORT)
        publisher = talker.create_publisher(Clock, "/fast", BEST_EFFORT)
        assert publisher.wait_for_subscribers(10)
        for step in range(200):
            publisher.publish(Clock(step=step))
        time.sleep(1.5)
    assert received, "nothing arrived"
    assert len(received) < 200  # the ring kept only the newest few while the callback was busy
    assert received[-1] == 199
    assert received == sorted(received)


def test_type_without_generated_code_crosses_processes(domain: str) -> None:
    """A subscriber decodes a type it has no code for, with the schema it fetches from the graph."""
    received: queue.Queue = queue.Queue()
    with Node("listener") as listener:
        listener.create_subscription(None, "/custom", received.put)
        process = start_process(
            publisher_command("--topic", "/custom", "--type", "custom", "--count", "20", "--linger", "5"),
            domain,
        )
        try:
            wait_for_line(process.stdout, "published 20")
            messages = drain(received, 20)
            type_info = listener.lookup_type("test.Custom")
            topics = listener.topics()
        finally:
            process.wait(timeout=20)
    assert len(messages) == 20
    assert type_info is not None
    decoded = [type_info.message_class.FromString(m.data) for m in messages]
    assert [list(d.values) for d in decoded] == [[float(i)] for i in range(20)]
    assert topics.get("/custom") == ["test.Custom"]


def test_timer_fires_at_its_rate(domain: str) -> None:
    ticks: list[float] = []
    with Node("ticker") as node:
        timer = node.create_timer(0.02, lambda: ticks.append(time.monotonic()))
        time.sleep(0.5)
        timer.cancel()
        count = len(ticks)
        time.sleep(0.1)
    assert 5 <= count <= 30
    assert len(ticks) == count  # nothing after cancel


def test_topic_list_shows_publishers_and_types(domain: str) -> None:
    with Node("a", "/ns") as node:
        node.create_publisher(Clock, "/clock")
        node.create_publisher(Scalars, "reward")
        time.sleep(0.2)
        topics = node.topics()
    assert topics == {"/clock": ["simrec.Clock"], "/ns/reward": ["simrec.Scalars"]}


def test_remaps_apply_to_resolved_names(domain: str) -> None:
    with Node("sim", "/r1", remaps={"state": "/other/state"}) as node:
        assert node.resolve_topic("state") == "/other/state"
        assert node.resolve_topic("clock") == "/r1/clock"


def test_shut_down_node_refuses_new_entities(domain: str) -> None:
    node = Node("gone")
    node.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        node.create_timer(1.0, lambda: None)
