"""Foxglove WebSocket views of the graph and of logs (foxglove-sdk behind a front of our own).

``LiveBridge`` advertises graph topics as Foxglove channels and forwards payload bytes as
they arrive, only while a client is subscribed (each topic within a rate, big messages
within a byte budget), and offers the recorders' and players' controls as services, nodes'
parameters, and (``allow_publish``) publishing from the viewer.
``open_server`` is where every server starts: on a front that accepts ``foxglove.sdk.v1.1``,
``foxglove.sdk.v1`` and ``foxglove.websocket.v1`` clients on one port, TLS too, with clear
errors for a busy port, a bad host or certificate.
``LayoutPlan`` with ``foxglove_layout``/``lichtblick_layout`` writes a layout to start from.
"""

from .bridge import DEFAULT_MAX_BYTES_PER_S, DEFAULT_MAX_RATE_HZ, LiveBridge, LiveOptions
from .front import OLD_TOKEN, SDK_TOKENS
from .graph_view import GraphView
from .layout import LayoutPlan, TopicSample, foxglove_layout, lichtblick_layout
from .layout_topics import topics_in_log, topics_on_graph
from .server import LiveError, LiveServer, exposure_warning, open_server, viewer_url

__all__ = [
    "DEFAULT_MAX_BYTES_PER_S",
    "DEFAULT_MAX_RATE_HZ",
    "OLD_TOKEN",
    "SDK_TOKENS",
    "GraphView",
    "LayoutPlan",
    "LiveBridge",
    "LiveError",
    "LiveOptions",
    "LiveServer",
    "TopicSample",
    "exposure_warning",
    "foxglove_layout",
    "lichtblick_layout",
    "open_server",
    "topics_in_log",
    "topics_on_graph",
    "viewer_url",
]
