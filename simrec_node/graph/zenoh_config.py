"""The Zenoh configuration a simrec node starts with.

Defaults keep everything on this machine: listen on 127.0.0.1 with an OS-chosen port,
find peers by multicast scouting on the loopback interface only (this works between
processes with no router), and move payloads above a few KiB through shared memory.
Crossing machines is configuration only: point ``SIMREC_ZENOH_CONFIG`` at a JSON5 Zenoh
config file (endpoints, a ``zenohd`` router), or ``SIMREC_ZENOH_CONNECT`` at endpoints.
"""

from __future__ import annotations

import json
import os

import zenoh

CONFIG_FILE_ENV = "SIMREC_ZENOH_CONFIG"
CONNECT_ENV = "SIMREC_ZENOH_CONNECT"
SHM_POOL_BYTES = 64 * 1024 * 1024

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


class ConfigError(ValueError):
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
    connect = os.environ.get(CONNECT_ENV)
    if connect:
        config["connect"] = {"endpoints": [e.strip() for e in connect.split(",") if e.strip()]}
    return zenoh.Config.from_json5(json.dumps(config))


def shared_memory_enabled(config: zenoh.Config) -> bool:
    """Whether ``config`` lets payloads cross processes through shared memory."""
    return config.get_json("transport/shared_memory/enabled") == "true"
