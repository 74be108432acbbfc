"""The Zenoh configuration a simrec node starts with.

Defaults keep everything on this machine: listen on 127.0.0.1 with an OS-chosen port,
find peers by multicast scouting on the loopback interface only (this works between
processes with no router), and move payloads above a few KiB through shared memory where
this process may lock memory without limit (see ``locked_memory_limit``).
Crossing machines is configuration only: point ``SIMREC_ZENOH_CONFIG`` at a JSON5 Zenoh
config file (endpoints, a ``zenohd`` router), or ``SIMREC_ZENOH_CONNECT`` at endpoints.
"""

from __future__ import annotations

import json
import os
import resource

import zenoh

from simrec_node.errors import SimrecError

CONFIG_FILE_ENV = "SIMREC_ZENOH_CONFIG"
CONNECT_ENV = "SIMREC_ZENOH_CONNECT"
# Zenoh's own pool, for payloads of a few KiB up to shared_memory.MIN_BYTES. Each receiver keeps
# it mapped after the sending process exits (see locked_memory_limit): kept small.
SHM_POOL_BYTES = 8 * 1024 * 1024
_CAP_IPC_LOCK = 14  # the capability that lifts RLIMIT_MEMLOCK (root has it)

DEFAULT_CONFIG: dict = {
    "mode": "peer",
    "listen": {"endpoints": ["tcp/127.0.0.1:0"]},
    "scouting": {
        "multicast": {"enabled": True, "interface": "lo"},
        "gossip": {"enabled": True},
    },
    "transport": {
        "shared_memory": {
            "enabled": True,
            "transport_optimization": {"enabled": True, "pool_size": SHM_POOL_BYTES},
        }
    },
}


class ConfigError(SimrecError, ValueError):
    """The Zenoh configuration named by the environment cannot be used."""


def build_config() -> zenoh.Config:
    """The config from ``SIMREC_ZENOH_CONFIG`` if set, else simrec's loopback defaults."""
    path = os.environ.get(CONFIG_FILE_ENV)
    if path:
        try:
            return zenoh.Config.from_file(path)
        except Exception as exc:  # zenoh raises its own error type with a long message
            raise ConfigError(f"cannot use Zenoh config {path} ({CONFIG_FILE_ENV}): {exc}") from exc
    config = json.loads(json.dumps(DEFAULT_CONFIG))
    if why_no_shared_memory():
        config["transport"]["shared_memory"]["enabled"] = False
    connect = os.environ.get(CONNECT_ENV)
    if connect:
        config["connect"] = {"endpoints": [e.strip() for e in connect.split(",") if e.strip()]}
    return zenoh.Config.from_json5(json.dumps(config))


def shared_memory_enabled(config: zenoh.Config) -> bool:
    """Whether ``config`` lets payloads cross processes through shared memory."""
    return config.get_json("transport/shared_memory/enabled") == "true"


def locked_memory_limit() -> int | None:
    """Bytes this process may lock (``ulimit -l``); None when it may lock without limit.

    Zenoh locks each shared-memory segment it maps, its own and every sending peer's, and keeps
    a peer's segments until this process exits, long after the peer has gone
    (eclipse-zenoh/zenoh#2787). Under a limit (8 MiB for users on most Linux systems) a
    publisher's pool cannot be created, and a recorder that outlives a few publishers can map
    no more: their shared-memory messages are lost. So the defaults use shared memory only
    without a limit (root, CAP_IPC_LOCK, or ``memlock unlimited`` in limits.conf).
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    if soft == resource.RLIM_INFINITY or _has_capability(_CAP_IPC_LOCK):
        return None
    return soft


def why_no_shared_memory() -> str | None:
    """Why the default config leaves shared memory off in this process, in words (the one place
    that decides it); None when it is on, or when ``SIMREC_ZENOH_CONFIG`` decides."""
    limit = None if os.environ.get(CONFIG_FILE_ENV) else locked_memory_limit()
    if limit is None:
        return None
    return (
        f"big payloads cross processes over loopback TCP, not shared memory: this user may lock only "
        f"{limit / 2**20:g} MiB of memory (ulimit -l), and Zenoh locks every shared-memory pool it maps; "
        "`memlock unlimited` in /etc/security/limits.conf (or `ulimit -l unlimited`) turns it on"
    )


def _has_capability(bit: int) -> bool:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> bit & 1)
    except OSError:  # no /proc (not Linux): the rlimit alone decides
        pass
    return False
