"""One Zenoh session per process, shared by every node in it (as one ROS 2 context)."""

from __future__ import annotations

import threading

import zenoh

from .zenoh_config import build_config

_lock = threading.Lock()
_session: zenoh.Session | None = None
_users = 0


def acquire_session() -> zenoh.Session:
    """Open the process's session on first use; count the user."""
    global _session, _users
    with _lock:
        if _session is None or _session.is_closed():
            _session = zenoh.open(build_config())
            _users = 0
        _users += 1
        return _session


def release_session() -> None:
    """Close the session when its last user lets go."""
    global _session, _users
    with _lock:
        _users -= 1
        if _users <= 0 and _session is not None:
            _session.close()
            _session = None
            _users = 0
