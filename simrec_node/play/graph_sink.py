"""Playing onto the node graph: one publisher per recorded channel, and an optional ``/clock``."""

from __future__ import annotations

import time

from google.protobuf.timestamp_pb2 import Timestamp

from simrec_node.graph import RELIABLE, Node, Publisher, QoS, TypeInfo
from simrec_node.msgs import Clock

from .clock import PlaybackClock
from .source import ChannelInfo, Item

CLOCK_TOPIC = "/clock"  # where --clock publishes; a recorded /clock is then left out


class GraphSink:
    """Publishes each message's bytes as recorded, with its recorded type and publish stamp.

    Types need no generated code: the publisher carries the recorded schema (TypeInfo), so the
    graph can look it up as for any live publisher.
    """

    wants_latest_on_seek = False

    def __init__(self, node: Node, channels: list[ChannelInfo], qos: QoS = RELIABLE) -> None:
        self._publishers: dict[int, Publisher] = {
            c.id: node.create_publisher(TypeInfo(c.schema_name, c.schema_data), c.topic, qos)
            for c in channels
        }

    def wait_for_subscribers(self, timeout_s: float) -> int:
        """Give subscribers (a recorder started first) up to ``timeout_s`` to match; count matched."""
        deadline = time.monotonic() + timeout_s
        return sum(
            p.wait_for_subscribers(max(0.0, deadline - time.monotonic())) for p in self._publishers.values()
        )

    def deliver(self, item: Item) -> None:
        self._publishers[item.channel.id].publish(item.data, stamp_ns=item.publish_time)

    def seeked(self, time_ns: int, latest: list[Item], *, announce: bool) -> None:
        return None

    def ended(self) -> None:
        return None


class ClockPublisher:
    """``/clock`` at ``hz``: the log time being played (sim time for nodes that follow /clock)."""

    def __init__(self, node: Node, clock: PlaybackClock, hz: float, topic: str = CLOCK_TOPIC) -> None:
        self._clock = clock
        self._publisher = node.create_publisher(Clock, topic)
        self._timer = node.create_timer(1.0 / hz, self._tick)

    def _tick(self) -> None:
        stamp = Timestamp()
        stamp.FromNanoseconds(self._clock.now())
        self._publisher.publish(Clock(clock=stamp))
