"""Foxglove WebSocket views of the graph (foxglove-sdk, subprotocol ``foxglove.sdk.v1``).

``LiveBridge`` advertises graph topics as Foxglove channels and forwards payload bytes as
they arrive, only while a client is subscribed (each topic within a rate, big messages
within a byte budget);
``open_server`` starts a server with clear errors for a busy port or a bad host.
"""

from .bridge import DEFAULT_MAX_BYTES_PER_S, DEFAULT_MAX_RATE_HZ, LiveBridge, LiveOptions
from .graph_view import GraphView
from .server import LiveError, open_server, viewer_url

__all__ = [
    "DEFAULT_MAX_BYTES_PER_S",
    "DEFAULT_MAX_RATE_HZ",
    "GraphView",
    "LiveBridge",
    "LiveError",
    "LiveOptions",
    "open_server",
    "viewer_url",
]
