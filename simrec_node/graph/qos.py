"""Quality of service, in ROS 2's words, mapped onto Zenoh's options."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import zenoh


class Reliability(Enum):
    RELIABLE = "reliable"  # publishers block when the path is congested; nothing is dropped
    BEST_EFFORT = "best_effort"  # publishers drop when congested; subscribers keep the newest


class Durability(Enum):
    VOLATILE = "volatile"  # late joiners see only new messages
    TRANSIENT_LOCAL = "transient_local"  # late joiners get the last `depth` messages


@dataclass(frozen=True)
class QoS:
    """Delivery settings of a publisher or subscription.

    ``depth`` is the subscription's queue between Zenoh and the callback (and, with
    ``TRANSIENT_LOCAL``, how many messages a publisher keeps for late joiners).
    """

    reliability: Reliability = Reliability.RELIABLE
    durability: Durability = Durability.VOLATILE
    depth: int = 1000

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise ValueError(f"QoS depth must be at least 1, got {self.depth}")

    @property
    def congestion_control(self) -> zenoh.CongestionControl:
        if self.reliability is Reliability.RELIABLE:
            return zenoh.CongestionControl.BLOCK
        return zenoh.CongestionControl.DROP

    @property
    def zenoh_reliability(self) -> zenoh.Reliability:
        if self.reliability is Reliability.RELIABLE:
            return zenoh.Reliability.RELIABLE
        return zenoh.Reliability.BEST_EFFORT


RELIABLE = QoS()
BEST_EFFORT = QoS(reliability=Reliability.BEST_EFFORT, depth=10)
LATCHED = QoS(durability=Durability.TRANSIENT_LOCAL, depth=1)
SENSOR_DATA = QoS(reliability=Reliability.BEST_EFFORT, depth=5)
