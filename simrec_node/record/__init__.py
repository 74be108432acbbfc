"""The recorder node: topic selection, bounded queue, MCAP writer, drop accounting."""

from simrec_node.mcap.writer import McapWriter

from .errors import RecordError
from .output import (
    OutputError,
    OutputLayout,
    default_output_name,
    open_writer,
    prepare_output,
    prepare_split_output,
)
from .recorder import Recorder, RecordOptions, writer_behind
from .selection import TopicSelection
from .stats import RecordingStats, TopicStats

__all__ = [
    "McapWriter",
    "OutputError",
    "OutputLayout",
    "RecordError",
    "RecordOptions",
    "Recorder",
    "RecordingStats",
    "TopicSelection",
    "TopicStats",
    "default_output_name",
    "open_writer",
    "prepare_output",
    "prepare_split_output",
    "writer_behind",
]
