"""Starting a Foxglove WebSocket server, with one-line errors for what users get wrong."""

from __future__ import annotations

import ipaddress

import foxglove
from foxglove.websocket import Capability, ServerListener, WebSocketServer

from simrec_node.errors import SimrecError

_BIND_PREFIX = "FoxgloveError: Failed to bind port: "


class LiveError(SimrecError):
    """The live view cannot start (port in use, bad host): printed as one line."""


def open_server(
    *,
    host: str,
    port: int,
    context: foxglove.Context,
    name: str = "simrec",
    capabilities: list[Capability] | None = None,
    backlog: int = 256,
    listener: ServerListener | None = None,
    playback_time_range: tuple[int, int] | None = None,
) -> WebSocketServer:
    """Bind and start a server on ``host:port`` (0: any free port) for ``context``'s channels.

    Raises:
        LiveError: the address cannot be bound (in use, not an address of this machine, ...).
    """
    try:
        return foxglove.start_server(
            name=name,
            host=host,
            port=port,
            capabilities=capabilities,
            server_listener=listener,
            context=context,
            message_backlog_size=backlog,
            playback_time_range=playback_time_range,
        )
    except RuntimeError as exc:
        reason = str(exc).removeprefix(_BIND_PREFIX)
        if "Address already in use" in reason:
            raise LiveError(
                f"port {port} on {host} is already in use: choose another with --port "
                "(or stop the program holding it)"
            ) from None
        raise LiveError(f"cannot serve Foxglove on {host}:{port}: {reason}; check --host/--port") from None


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:  # a host name
        return False


def viewer_url(host: str, port: int) -> str:
    """The ``ws://`` address a viewer on this machine connects to."""
    if not host or _is_wildcard(host):  # bound to every address: this machine's viewer uses localhost
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"ws://{host}:{port}"
