"""One Zenoh session per process, shared by every node in it (as one ROS 2 context)."""

from __future__ import annotations

import threading

import zenoh

from .shared_memory import SharedMemoryPool
from .zenoh_config import ConfigError, build_config, shared_memory_enabled, zenoh_reason

_lock = threading.Lock()
_session: zenoh.Session | None = None
_users = 0
_pool: SharedMemoryPool | None = None  # kept for the process's life: its memory is mapped once
_pool_in_use = False  # whether the open session's config allows shared memory


def acquire_session() -> zenoh.Session:
    """Open the process's session on first use; count the user."""
    global _session, _users, _pool, _pool_in_use
    with _lock:
        if _session is None or _session.is_closed():
            config = build_config()
            _pool_in_use = shared_memory_enabled(config)
            if _pool_in_use and _pool is None:
                _pool = SharedMemoryPool()
            try:
                _session = zenoh.open(config)
            except zenoh.ZError as exc:  # e.g. a client whose router is unreachable or refuses it
                raise ConfigError(f"cannot join the Zenoh network: {zenoh_reason(exc)}") from exc
            _users = 0
        _users += 1
        return _session


def shared_memory_pool() -> SharedMemoryPool | None:
    """The pool publishers copy big payloads into; None when the Zenoh config turns shared memory off."""
    return _pool if _pool_in_use else None


def release_session() -> None:
    """Close the session when its last user lets go."""
    global _session, _users
    with _lock:
        _users -= 1
        if _users <= 0 and _session is not None:
            _session.close()
            _session = None
            _users = 0
