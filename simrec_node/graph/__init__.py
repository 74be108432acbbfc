"""The ROS 2-style node graph on Eclipse Zenoh: nodes, typed topics, services, QoS, discovery."""

from .discovery import Endpoint
from .names import InvalidNameError, resolve_topic
from .node import Node
from .parameter_service import list_parameters, set_parameters
from .parameters import ParameterError, Parameters
from .publisher import Publisher
from .qos import BEST_EFFORT, LATCHED, RELIABLE, SENSOR_DATA, Durability, QoS, Reliability
from .sequence import GapCounter
from .service import Service, ServiceReply
from .subscription import Subscription
from .timer import Timer
from .types import TypeInfo
from .wire import RawMessage
from .zenoh_config import ConfigError, why_no_shared_memory

__all__ = [
    "BEST_EFFORT",
    "LATCHED",
    "RELIABLE",
    "SENSOR_DATA",
    "ConfigError",
    "Durability",
    "Endpoint",
    "GapCounter",
    "InvalidNameError",
    "Node",
    "ParameterError",
    "Parameters",
    "Publisher",
    "QoS",
    "RawMessage",
    "Reliability",
    "Service",
    "ServiceReply",
    "Subscription",
    "Timer",
    "TypeInfo",
    "list_parameters",
    "resolve_topic",
    "set_parameters",
    "why_no_shared_memory",
]
