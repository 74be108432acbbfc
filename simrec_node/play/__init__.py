"""``simrec play``: MCAP log -> playback clock -> the node graph and/or a Foxglove server.

One `LogSource` (streamed, indexed reading), one `PlaybackClock` (rate, pause, seek), one
`Player` (the scheduler) feeding sinks: `GraphSink` publishers and, from `simrec_node.live`,
the Foxglove playback server. `ControlServer` / `send_command` control a player over the graph.
"""

from .clock import ClockState, PlaybackClock
from .control import ControlServer, apply_command, send_command, state_dict
from .errors import PlayError
from .graph_sink import CLOCK_TOPIC, ClockPublisher, GraphSink
from .keyboard import KeyboardControl
from .player import Player, PlayRange, Sink
from .source import ChannelInfo, Item, LogSource

__all__ = [
    "CLOCK_TOPIC",
    "ChannelInfo",
    "ClockPublisher",
    "ClockState",
    "ControlServer",
    "GraphSink",
    "Item",
    "KeyboardControl",
    "LogSource",
    "PlayError",
    "PlayRange",
    "PlaybackClock",
    "Player",
    "Sink",
    "apply_command",
    "send_command",
    "state_dict",
]
