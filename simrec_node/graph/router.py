"""A Zenoh router in this process: what ``simrec router`` runs, one per host.

A router joins hosts: the peers of its host reach it over loopback (multicast scouting on
``lo``, or ``SIMREC_ZENOH_CONNECT``), and it reaches the other hosts' routers over the
endpoints it is given. Zenoh's router mode does the routing; this module opens it, says where
it listens, and reports the routers and peers that come and go.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable

import zenoh

from simrec_node.errors import SimrecError

from .zenoh_config import endpoints_of, zenoh_reason

_ADMIN_TIMEOUT_S = 2.0
CLOSE_TIMEOUT_S = 2.0


class RouterError(SimrecError):
    """The router cannot start (an endpoint taken or unusable, a bad TLS file)."""


class Router:
    """An open Zenoh router session; ``on_change`` hears one line per router or peer that comes
    or goes (from a Zenoh thread). A context manager: leaving it closes the router."""

    def __init__(self, config: zenoh.Config, on_change: Callable[[str], None] | None = None) -> None:
        self._config = config
        self._on_change = on_change or (lambda _line: None)
        self._kinds: dict[str, str] = {}  # zid -> "router" / "peer" / "client", once its session is open
        self._first_links: dict[str, str] = {}  # zid -> the address of its first link, once it has one
        self._lock = threading.Lock()
        try:
            self.session = zenoh.open(config)
        except Exception as exc:  # zenoh's own error type, one long line
            raise RouterError(f"cannot start the router: {zenoh_reason(exc)}") from exc
        self._transports: zenoh.TransportEventsListener | None = None
        self._links: zenoh.LinkEventsListener | None = None

    def watch(self) -> None:
        """Start telling ``on_change`` about routers and peers, those already connected first."""
        if self._transports is None:
            info = self.session.info
            self._transports = info.declare_transport_events_listener(self._on_transport, history=True)
            self._links = info.declare_link_events_listener(self._on_link, history=True)

    @property
    def zid(self) -> str:
        return str(self.session.zid())

    def listening(self) -> list[str]:
        """The locators it listens on, with the ports the OS chose (from its admin space)."""
        try:
            for reply in self.session.get(f"@/{self.zid}/router", timeout=_ADMIN_TIMEOUT_S):
                if reply.ok is not None:
                    return list(json.loads(reply.ok.payload.to_string()).get("locators", []))
        except zenoh.ZError:
            pass
        return endpoints_of(self._config, "listen")  # a config that turned the admin space off

    def connecting_to(self) -> list[str]:
        return endpoints_of(self._config, "connect")

    def neighbours(self) -> dict[str, list[str]]:
        """The zids of the routers and peers it has a session with, by kind."""
        return {
            "routers": sorted(str(z) for z in self.session.info.routers_zid()),
            "peers": sorted(str(z) for z in self.session.info.peers_zid()),
        }

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> bool:
        """Close the router; False when Zenoh did not finish within ``timeout_s``.

        Zenoh says goodbye on every link and waits for it (10 s, then an error) on a link whose
        other end is unreachable, e.g. a cable pulled. A router being stopped has nothing to
        hand over, so it waits a short while in a thread of its own and then lets go.
        """
        if self.session.is_closed():
            return True
        if self._transports is not None:
            self._links.undeclare()
            self._transports.undeclare()
        closer = threading.Thread(target=self._close_quietly, name="zenoh-router-close", daemon=True)
        closer.start()
        closer.join(timeout_s)
        return not closer.is_alive()

    def _close_quietly(self) -> None:
        with contextlib.suppress(zenoh.ZError):  # "close operation timed out": the process is ending anyway
            self.session.close()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _on_transport(self, event: zenoh.TransportEvent) -> None:
        transport = event.transport
        zid = str(transport.zid)
        kind = str(transport.whatami).rsplit(".", 1)[-1].lower()
        with self._lock:
            if event.kind == zenoh.SampleKind.PUT:
                self._kinds[zid] = kind
                where = self._first_links.get(zid)
            else:
                self._kinds.pop(zid, None)
                self._first_links.pop(zid, None)
        if event.kind != zenoh.SampleKind.PUT:
            self._on_change(f"- {kind} {zid} left")
        elif where is not None:  # its link was reported first
            self._on_change(f"+ {kind} {zid} at {where}")

    def _on_link(self, event: zenoh.LinkEvent) -> None:
        link = event.link
        zid = str(link.zid)
        if event.kind != zenoh.SampleKind.PUT:
            return
        with self._lock:
            if zid in self._first_links:
                return  # a second link to the same session
            self._first_links[zid] = where = f"{link.dst} (via {link.src})"
            kind = self._kinds.get(zid)
        if kind is not None:  # said once both its session and its address are known
            self._on_change(f"+ {kind} {zid} at {where}")
