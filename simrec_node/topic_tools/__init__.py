"""Looking at the live graph: finding topics, printing messages, measuring rates."""

from .find import TopicNotFoundError, wait_for_topic
from .rate import RateMeter, RateReport
from .text import message_to_text

__all__ = ["RateMeter", "RateReport", "TopicNotFoundError", "message_to_text", "wait_for_topic"]
