"""Recording: one engine (queue, writer thread, files, stats) and its two front ends.

``RecorderNode`` records topics of the graph (``simrec record``); the in-process
``simrec_node.Recorder`` (``simrec_node.integrations``) records what a simulation logs.
"""

from simrec_node.mcap.writer import McapWriter

from .engine import EngineOptions, Item, LaterPayload, RecordingEngine, writer_behind
from .errors import RecordError
from .output import (
    OutputError,
    OutputLayout,
    default_output_name,
    open_writer,
    prepare_output,
    prepare_split_output,
)
from .recorder_node import RecorderNode, RecordOptions, recording_metadata
from .selection import TopicSelection
from .stats import RecordingStats, TopicStats
from .write_loop import DiskFullError

__all__ = [
    "DiskFullError",
    "EngineOptions",
    "Item",
    "LaterPayload",
    "McapWriter",
    "OutputError",
    "OutputLayout",
    "RecordError",
    "RecordOptions",
    "RecorderNode",
    "RecordingEngine",
    "RecordingStats",
    "TopicSelection",
    "TopicStats",
    "default_output_name",
    "open_writer",
    "prepare_output",
    "prepare_split_output",
    "recording_metadata",
    "writer_behind",
]
