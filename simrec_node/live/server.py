"""Starting a Foxglove WebSocket server: the one place every front end (``record --serve``,
``serve``, ``play --serve``, ``Recorder(serve=True)``) gets its server from.

foxglove-sdk serves on a private loopback port; `ServerFront` owns the port viewers connect to,
so clients of every protocol token connect (see front.py). Errors users cause (a busy port, a
bad host, an unreadable certificate) are one-line `LiveError`s.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import foxglove
from foxglove.websocket import Capability, ServerListener, WebSocketServer

from simrec_node.errors import SimrecError

from .front import ServerFront

log = logging.getLogger("simrec.live")
_STOP_WAIT_S = 2.0


class LiveError(SimrecError):
    """The live view cannot start (port in use, bad host, bad certificate): printed as one line."""


class LiveServer:
    """A running server: foxglove-sdk's `WebSocketServer` (its methods are this object's) behind
    the front that owns ``port``."""

    def __init__(self, sdk: WebSocketServer, front: ServerFront, *, host: str, tls: bool) -> None:
        self.sdk = sdk
        self._front = front
        self.host = host
        self.tls = tls

    @property
    def port(self) -> int:
        return self._front.port

    @property
    def url(self) -> str:
        return viewer_url(self.host, self.port, tls=self.tls)

    def __getattr__(self, name: str) -> Any:  # broadcast_time, publish_connection_graph, add_services, ...
        return getattr(self.sdk, name)

    def stop(self) -> None:
        """Stop the SDK's server, waiting at most ``_STOP_WAIT_S`` (its ``stop()`` waits for every
        client to take its close frame, which a client that stopped reading never does), then the front."""
        stopper = threading.Thread(target=self.sdk.stop, name="live server stop", daemon=True)
        stopper.start()
        stopper.join(_STOP_WAIT_S)
        self._front.stop()


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
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    exposes: str = "every topic it serves",
    **sdk_options: Any,
) -> LiveServer:
    """Bind ``host:port`` (0: any free port) and serve ``context``'s channels there.

    ``tls_cert``/``tls_key`` (PEM files) serve ``wss://``. A host beyond loopback logs a warning
    naming what it ``exposes``. ``sdk_options`` go to ``foxglove.start_server`` (services, ...).

    Raises:
        LiveError: the address cannot be bound (in use, not an address of this machine, ...), or
            the certificate or key cannot be read.
    """
    tls = _tls_context(tls_cert, tls_key)
    sock = _bind(host, port)
    try:
        sdk = foxglove.start_server(
            name=name,
            host="127.0.0.1",
            port=0,
            capabilities=capabilities,
            server_listener=listener,
            context=context,
            message_backlog_size=backlog,
            playback_time_range=playback_time_range,
            **sdk_options,
        )
    except BaseException:
        sock.close()
        raise
    front = ServerFront(sock, sdk.port, tls)
    front.start()
    warning = exposure_warning(host, tls=tls is not None, exposes=exposes)
    if warning:
        log.warning("%s", warning)
    return LiveServer(sdk, front, host=host, tls=tls is not None)


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, _, _, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        return socket.create_server(
            address[:2] if family == socket.AF_INET else address, family=family, backlog=64
        )
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise LiveError(
                f"port {port} on {host} is already in use: choose another with --port "
                "(or stop the program holding it)"
            ) from None
        reason = exc.strerror or str(exc)
        raise LiveError(f"cannot serve Foxglove on {host}:{port}: {reason}; check --host/--port") from None


def _tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise LiveError("--tls-cert and --tls-key go together: give both PEM files (certificate and its key)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise LiveError(f"cannot use TLS certificate {cert} with key {key}: {reason}") from None
    return context


def is_loopback(host: str) -> bool:
    """Whether ``host`` only takes connections from this machine (a name counts if it resolves so)."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host or None, 0, flags=socket.AI_PASSIVE)}
    except OSError:
        return False
    if not host:
        return False
    return all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def exposure_warning(host: str, *, tls: bool, exposes: str) -> str | None:
    """What binding ``host`` beyond loopback exposes, in words; None on loopback."""
    if is_loopback(host):
        return None
    clear = "" if tls else ", in clear text (--tls-cert/--tls-key serve wss://)"
    return (
        f"the live view listens on {host}, beyond this machine: anyone who can reach it sees "
        f"{exposes}, with no password{clear}"
    )


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:  # a host name
        return False


def viewer_url(host: str, port: int, *, tls: bool = False) -> str:
    """The ``ws://`` (``wss://``) address a viewer on this machine connects to."""
    if not host or _is_wildcard(host):  # bound to every address: this machine's viewer uses localhost
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"{'wss' if tls else 'ws'}://{host}:{port}"
