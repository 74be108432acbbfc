"""The recorder node: topic selection, bounded queue, MCAP writer, drop accounting."""

from .mcap_writer import McapWriter
from .output import OutputError, default_output_name, open_writer, prepare_output
from .recorder import Recorder, RecordOptions
from .selection import TopicSelection
from .stats import RecordingStats, TopicStats

__all__ = [
    "McapWriter",
    "OutputError",
    "RecordOptions",
    "Recorder",
    "RecordingStats",
    "TopicSelection",
    "TopicStats",
    "default_output_name",
    "open_writer",
    "prepare_output",
]
