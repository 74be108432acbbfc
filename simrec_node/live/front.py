"""The listening socket in front of foxglove-sdk: one port for every Foxglove protocol token.

foxglove-sdk accepts only ``foxglove.sdk.v1``/``foxglove.sdk.v1.1``; Foxglove Studio 1.x,
Lichtblick before 1.22 and ``@foxglove/ws-protocol`` clients offer ``foxglove.websocket.v1``
and get a bare HTTP 400. `ServerFront` owns the port viewers connect to. It reads each HTTP
upgrade, picks the newest token that client offers, connects to the SDK's server on a private
loopback port offering the SDK token, hands the SDK's answer back with the client's token, then
relays bytes. An old-token client's stream passes through `OldProtocolFilter`, which drops what
that protocol lacks (playback state, ...). A refused handshake says why, in the log and in the
HTTP response. With an ``ssl.SSLContext`` the front terminates TLS (``wss://``); the SDK behind
it stays plain, on loopback.

Each relayed chunk is read once into a buffer and written from it: one copy per client.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import ssl
import threading
from collections.abc import Callable

log = logging.getLogger("simrec.live")

OLD_TOKEN = "foxglove.websocket.v1"
# Newest first: the front picks the first one a client offers.
SDK_TOKENS = ("foxglove.sdk.v1.1", "foxglove.sdk.v1")
TOKENS = (*SDK_TOKENS, OLD_TOKEN)

# What foxglove.websocket.v1 (ws-protocol's spec) has; anything else is kept from its clients.
OLD_BINARY_OPS = frozenset({1, 2, 3, 4})  # message data, time, service call response, fetch asset response
OLD_TEXT_OPS = frozenset(
    {
        "serverInfo",
        "status",
        "removeStatus",
        "advertise",
        "unadvertise",
        "parameterValues",
        "advertiseServices",
        "unadvertiseServices",
        "connectionGraphUpdate",
        "serviceCallFailure",
    }
)
OLD_CAPABILITIES = frozenset(
    {"clientPublish", "parameters", "parametersSubscribe", "time", "services", "connectionGraph", "assets"}
)
OLD_SERVER_INFO_FIELDS = frozenset(
    {"op", "name", "capabilities", "supportedEncodings", "metadata", "sessionId"}
)

_MAX_REQUEST = 16 * 1024
_HANDSHAKE_TIMEOUT_S = 10.0
_RELAY_BUFFER = 1 << 20


class HandshakeRefused(Exception):
    """A client's upgrade request that the front answers with 400 (never leaves the front)."""


class ServerFront:
    """Accepts viewers on ``sock`` and relays each to the SDK server at 127.0.0.1:``backend_port``."""

    def __init__(self, sock: socket.socket, backend_port: int, tls: ssl.SSLContext | None = None) -> None:
        self._sock = sock
        self._backend_port = backend_port
        self._tls = tls
        self.port: int = sock.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = False
        self._thread = threading.Thread(target=self._accept, name="live front", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Close the port and every relayed connection; safe to call twice."""
        with self._lock:
            self._stopped = True
            sockets = [self._sock, *self._open]
            self._open.clear()
        for sock in sockets:
            _close(sock)
        self._thread.join(timeout=2)

    # ------------------------------------------------------------------ connections

    def _accept(self) -> None:
        while True:
            try:
                conn, address = self._sock.accept()
            except OSError:  # stop() closed the socket
                return
            if not self._track(conn):
                _close(conn)
                return
            threading.Thread(
                target=self._serve, args=(conn, address), name="live front client", daemon=True
            ).start()

    def _track(self, sock: socket.socket) -> bool:
        with self._lock:
            if self._stopped:
                return False
            self._open.add(sock)
            return True

    def _forget(self, *sockets: socket.socket) -> None:
        with self._lock:
            for sock in sockets:
                self._open.discard(sock)
        for sock in sockets:
            _close(sock)

    def _serve(self, conn: socket.socket, address: tuple) -> None:
        client: socket.socket = conn
        backend: socket.socket | None = None
        peer = _peer(address)
        try:
            conn.settimeout(_HANDSHAKE_TIMEOUT_S)
            if self._tls is not None:
                if conn.recv(4, socket.MSG_PEEK) in (b"GET ", b"GET"):
                    reason = "this server speaks TLS only: connect to wss://, not ws://"
                    log.warning("live view: refused a connection from %s: %s", peer, reason)
                    conn.sendall(_bad_request(reason))
                    return
                try:
                    client = self._tls.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError) as exc:
                    log.warning("live view: TLS handshake with %s failed: %s", peer, _ssl_reason(exc))
                    return
                self._track(client)
            request, early = _read_head(client)
            try:
                token, forward = negotiate(request)
            except HandshakeRefused as exc:
                log.warning("live view: refused a connection from %s: %s", peer, exc)
                client.sendall(_bad_request(str(exc)))
                return
            backend = socket.create_connection(
                ("127.0.0.1", self._backend_port), timeout=_HANDSHAKE_TIMEOUT_S
            )
            if not self._track(backend):
                return
            backend.sendall(forward + early)
            response, first_frames = _read_head(backend)
            status = response.split(b"\r\n", 1)[0]
            if b" 101 " not in status + b" ":
                log.warning("live view: the server refused %s: %s", peer, response.decode("latin-1").strip())
                client.sendall(response + first_frames)
                return
            client.sendall(_with_protocol(response, token))
            client.settimeout(None)
            backend.settimeout(None)
            _tcp_nodelay(client, backend)
            to_client = client.sendall if token != OLD_TOKEN else OldProtocolFilter(_sender(client)).feed
            if first_frames:
                to_client(memoryview(first_frames))
            upstream = threading.Thread(
                target=_upstream, args=(client, backend), name="live front upstream", daemon=True
            )
            upstream.start()
            if token != OLD_TOKEN and client is conn and _SPLICE:
                _splice(backend, client)
            else:
                _pump(backend, to_client, _RELAY_BUFFER)
            _shutdown(client)  # the server closed: the client's read sees the end
            upstream.join(timeout=2)
        except (OSError, ValueError) as exc:
            if not self._stopped:
                log.debug("live view: connection from %s ended: %s", peer, exc)
        finally:
            self._forget(*(s for s in (client, conn, backend) if s is not None))


def negotiate(request: bytes) -> tuple[str, bytes]:
    """The token to answer ``request`` with, and the request to send the SDK server.

    Raises:
        HandshakeRefused: not a WebSocket upgrade, or no token this server speaks (says which).
    """
    lines = request.decode("latin-1").split("\r\n")
    method = lines[0].split(" ", 1)[0]
    headers = [line.partition(":") for line in lines[1:] if line]
    values: dict[str, list[str]] = {}
    for name, _, value in headers:
        values.setdefault(name.strip().lower(), []).append(value.strip())
    if method != "GET" or "websocket" not in ",".join(values.get("upgrade", [])).lower():
        raise HandshakeRefused(
            "this is a Foxglove WebSocket server: connect to it from Foxglove or Lichtblick "
            "(Open connection -> Foxglove WebSocket), not over plain HTTP"
        )
    offered = [t.strip() for v in values.get("sec-websocket-protocol", []) for t in v.split(",") if t.strip()]
    token = next((t for t in TOKENS if t in offered), None)
    if token is None:
        said = ", ".join(offered) if offered else "no subprotocol"
        raise HandshakeRefused(
            f"the client offered {said}; this server speaks {', '.join(TOKENS)} "
            "(any Foxglove app, Foxglove Studio 1.x or Lichtblick connects)"
        )
    backend_token = token if token != OLD_TOKEN else SDK_TOKENS[-1]
    # Extensions are dropped so no compression is negotiated: the filter reads frames as sent.
    skip = ("sec-websocket-protocol", "sec-websocket-extensions")
    kept = [line for line in lines[1:] if line and _name(line) not in skip]
    head = "\r\n".join([lines[0], *kept, f"Sec-WebSocket-Protocol: {backend_token}", "", ""])
    return token, head.encode("latin-1")


def _with_protocol(response: bytes, token: str) -> bytes:
    lines = response.decode("latin-1").split("\r\n")
    kept = [
        line
        for line in lines[1:]
        if line and line.partition(":")[0].strip().lower() != "sec-websocket-protocol"
    ]
    return "\r\n".join([lines[0], *kept, f"Sec-WebSocket-Protocol: {token}", "", ""]).encode("latin-1")


def _name(header_line: str) -> str:
    return header_line.partition(":")[0].strip().lower()


def _bad_request(reason: str) -> bytes:
    body = f"simrec: {reason}\n".encode()
    return (
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """An HTTP head (through the blank line) and whatever came after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed during the handshake")
        data += chunk
        if len(data) > _MAX_REQUEST:
            raise ConnectionError("an HTTP head over 16 KiB")
    head, _, rest = data.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


def _pump(source: socket.socket, deliver: Callable[[memoryview], None], size: int) -> None:
    """Read ``source`` into one reused buffer and hand each chunk on until it closes."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    with contextlib.suppress(OSError, ValueError):
        while True:
            n = source.recv_into(buffer)
            if not n:
                break
            deliver(view[:n])
    _shutdown(source)


# A client's close frame (masked, "going away"), for the server when a client leaves without one.
_GOING_AWAY = bytes((0x88, 0x82, 0, 0, 0, 0)) + (1001).to_bytes(2, "big")


def _upstream(client: socket.socket, backend: socket.socket) -> None:
    """Relay the client's bytes to the server; when the client is gone, tell the server so it
    drops the connection now rather than at its next send."""
    _pump(client, backend.sendall, 1 << 16)
    with contextlib.suppress(OSError):
        backend.sendall(_GOING_AWAY)  # a no-op for a server that already closed after the client's own
        backend.shutdown(socket.SHUT_WR)


_SPLICE = hasattr(os, "splice")


def _splice(source: socket.socket, sink: socket.socket) -> None:
    """Move ``source``'s bytes to ``sink`` in the kernel (through a pipe), never into Python."""
    read_end, write_end = os.pipe()
    try:
        with contextlib.suppress(OSError):
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, _RELAY_BUFFER)
        with contextlib.suppress(OSError, ValueError):
            while True:
                n = os.splice(source.fileno(), write_end, _RELAY_BUFFER)
                if not n:
                    break
                while n:
                    n -= os.splice(read_end, sink.fileno(), n)
    finally:
        os.close(read_end)
        os.close(write_end)
    _shutdown(source)


def _sender(client: socket.socket) -> Callable[[list], None]:
    """Send pieces in order; small ones joined into one write, big ones written from where they are."""

    def send(pieces: list) -> None:
        if len(pieces) == 1:
            client.sendall(pieces[0])
            return
        small: list = []
        for piece in pieces:
            if len(piece) < 65536:
                small.append(piece)
                continue
            if small:
                client.sendall(b"".join(small))
                small = []
            client.sendall(piece)
        if small:
            client.sendall(b"".join(small))

    return send


_PASS, _DROP, _TEXT = 0, 1, 2


class OldProtocolFilter:
    """Server-to-client WebSocket frames as a ``foxglove.websocket.v1`` client may see them.

    Binary messages pass when their opcode is one that protocol has (message data, time, service
    call response, asset); text messages when their ``op`` is; ``serverInfo`` loses capabilities
    and fields it lacks. Payloads of passed binary frames go out from the read buffer; text
    messages (small, rare) are read whole. Server frames are never masked.
    """

    def __init__(self, send: Callable[[list], None]) -> None:
        self._send = send
        self._head = bytearray()
        self._left = 0  # payload bytes of the current frame still to come
        self._mode = _PASS
        self._message_mode = _PASS  # for continuation frames of a fragmented message
        self._text = bytearray()
        self._fin = True
        self.dropped = 0  # messages kept from the client

    def feed(self, data: memoryview) -> None:
        out: list = []
        i, n = 0, len(data)
        while i < n:
            if self._left:
                take = min(self._left, n - i)
                if self._mode == _PASS:
                    out.append(data[i : i + take])
                elif self._mode == _TEXT:
                    self._text += data[i : i + take]
                i += take
                self._left -= take
                if not self._left:
                    self._end_frame(out)
                continue
            i = self._read_header(data, i, out)
        if out:
            self._send(out)

    def _read_header(self, data: memoryview, i: int, out: list) -> int:
        head = self._head
        n = len(data)
        while len(head) < 2 and i < n:
            head.append(data[i])
            i += 1
        if len(head) < 2:
            return i
        opcode, length = head[0] & 0x0F, head[1] & 0x7F
        size = 2 + (2 if length == 126 else 8 if length == 127 else 0) + (4 if head[1] & 0x80 else 0)
        need = size + (1 if opcode == 2 and length else 0)  # a binary message's own opcode byte
        take = min(need - len(head), n - i)
        head += data[i : i + take]
        i += take
        if len(head) < need:
            return i
        if length == 126:
            length = int.from_bytes(head[2:4], "big")
        elif length == 127:
            length = int.from_bytes(head[2:10], "big")
        if length == 0 or opcode != 2:
            need = size
        self._fin = bool(head[0] & 0x80)
        self._left = length - (need - size)
        if opcode >= 8:  # control frames: ping, pong, close
            self._mode = _PASS
        elif opcode == 1:
            self._mode = self._message_mode = _TEXT
            self._text = bytearray()
        elif opcode == 2:
            ok = length == 0 or head[size] in OLD_BINARY_OPS
            self._mode = self._message_mode = _PASS if ok else _DROP
            if not ok:
                self.dropped += 1
        else:  # a continuation
            self._mode = self._message_mode
        if self._mode == _PASS:
            out.append(bytes(head))
        self._head = bytearray()
        if not self._left:
            self._end_frame(out)
        return i

    def _end_frame(self, out: list) -> None:
        if self._mode == _TEXT and self._fin:
            text = _old_text(bytes(self._text))
            self._text = bytearray()
            if text is None:
                self.dropped += 1
            else:
                out.append(_text_frame(text))


def _old_text(payload: bytes) -> bytes | None:
    """A text message as foxglove.websocket.v1 has it, or None where it has no such message."""
    try:
        message = json.loads(payload)
        op = message.get("op")
    except (ValueError, AttributeError):
        return None
    if op not in OLD_TEXT_OPS:
        return None
    if op != "serverInfo":
        return payload
    info = {key: value for key, value in message.items() if key in OLD_SERVER_INFO_FIELDS}
    info["capabilities"] = [c for c in message.get("capabilities", []) if c in OLD_CAPABILITIES]
    return json.dumps(info, separators=(",", ":")).encode()


def _text_frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes((0x81, n))
    elif n < 65536:
        head = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return head + payload


def _tcp_nodelay(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError, ValueError):
        sock.shutdown(socket.SHUT_RDWR)


def _close(sock: socket.socket) -> None:
    _shutdown(sock)
    with contextlib.suppress(OSError):
        sock.close()


def _peer(address: tuple) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _ssl_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return exc.reason.lower().replace("_", " ")
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no TLS handshake in time (a ws:// client connecting to a wss:// server?)"
    if isinstance(exc, OSError) and exc.errno == errno.ECONNRESET:
        return "the client closed the connection"
    return str(exc)
