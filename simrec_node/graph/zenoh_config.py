"""The Zenoh configuration a simrec node starts with.

Defaults keep everything on this machine: listen on 127.0.0.1 with an OS-chosen port,
find peers by multicast scouting on the loopback interface only (this works between
processes with no router), and move payloads above a few KiB through shared memory where
this process may lock memory without limit (see ``locked_memory_limit``).
Crossing machines is configuration only: one ``simrec router`` per host (``router_config``),
and each process points ``SIMREC_ZENOH_CONNECT`` at endpoints (its host's router) or
``SIMREC_ZENOH_CONFIG`` at a JSON5 Zenoh config file (TLS, user/password).
"""

from __future__ import annotations

import json
import os
import re
import resource
from dataclasses import dataclass, field
from pathlib import Path

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


ROUTER_LISTEN = "tcp/127.0.0.1:7447"  # a router's default: this host only; others are given explicitly


class ConfigError(SimrecError, ValueError):
    """The Zenoh configuration named by the environment cannot be used."""


def build_config() -> zenoh.Config:
    """The config from ``SIMREC_ZENOH_CONFIG`` if set, else simrec's loopback defaults."""
    path = os.environ.get(CONFIG_FILE_ENV)
    if path:
        return _config_file(path, CONFIG_FILE_ENV)
    config = _copy(DEFAULT_CONFIG)
    if why_no_shared_memory():
        config["transport"]["shared_memory"]["enabled"] = False
    connect = os.environ.get(CONNECT_ENV)
    if connect:
        config["connect"] = {"endpoints": [e.strip() for e in connect.split(",") if e.strip()]}
    return zenoh.Config.from_json5(json.dumps(config))


_ROUTER_DEFAULTS: dict = {
    "scouting": {"multicast": {"enabled": True, "interface": "lo"}, "gossip": {"enabled": True}},
}
_ROUTER_ALWAYS: dict = {
    "mode": "router",
    "transport": {"shared_memory": {"enabled": False}},
    "adminspace": {"enabled": True, "permissions": {"read": True, "write": False}},
}


@dataclass
class RouterSettings:
    """What ``simrec router`` is asked for on its command line; empty means "the default"."""

    listen: list[str] = field(default_factory=list)
    connect: list[str] = field(default_factory=list)
    config_file: Path | None = None
    tls_certificate: Path | None = None  # this router's certificate chain (PEM), for tls/ endpoints
    tls_key: Path | None = None
    tls_root_ca: Path | None = None  # the CA that signed the other routers' certificates
    users_file: Path | None = None  # ``user:password`` lines this router accepts
    user: str | None = None  # the name this router gives other routers (password: ``password``)
    password: str | None = None


def router_config(settings: RouterSettings) -> zenoh.Config:
    """A Zenoh router's config: ``settings.config_file`` (or nothing) with the command line's
    endpoints, TLS files and credentials on top, as ``zenohd`` layers its flags over a file.

    Listens on ``ROUTER_LISTEN`` unless told otherwise; unless the file says, scouts by
    multicast on ``lo`` only, so the peers of this host find it with no setting. Always: shared
    memory off (a router outlives every publisher, and each pool it mapped would stay mapped
    until it exits, see ``locked_memory_limit``; across hosts its payloads take TCP anyway), and
    the admin space readable (as ``zenohd``'s), so the router can say which port it got.
    """
    if settings.config_file is None:
        config = zenoh.Config.from_json5(json.dumps({"listen": {"endpoints": [ROUTER_LISTEN]}}))
    else:
        config = _config_file(settings.config_file, "--config")
        mode = json.loads(config.get_json("mode"))
        if mode not in (None, "router"):
            raise ConfigError(
                f"{settings.config_file}: mode is {mode!r}; a router's config needs mode router"
            )
        if _left_unset(config, "listen/endpoints") and not settings.listen:  # never Zenoh's [::]:7447
            settings = RouterSettings(**{**settings.__dict__, "listen": [ROUTER_LISTEN]})
    for key, value in _flatten(_ROUTER_DEFAULTS):  # where the file leaves them unset
        if json.loads(config.get_json(key)) is None:
            _insert(config, key, value, "simrec's router defaults")
    for key, value in _flatten(_ROUTER_ALWAYS):
        _insert(config, key, value, "simrec's router settings")
    overrides: dict[str, object] = {}
    if settings.listen:
        overrides["listen/endpoints"] = settings.listen
    if settings.connect:
        overrides["connect/endpoints"] = settings.connect
    tls = {
        "listen_certificate": settings.tls_certificate,
        "listen_private_key": settings.tls_key,
        "root_ca_certificate": settings.tls_root_ca,
        # a router that dials another presents the same certificate when the other asks for one
        "connect_certificate": settings.tls_certificate,
        "connect_private_key": settings.tls_key,
    }
    for key, path in tls.items():
        if path is not None:
            overrides[f"transport/link/tls/{key}"] = str(_readable(path, "TLS file"))
    if settings.users_file is not None:
        overrides["transport/auth/usrpwd/dictionary_file"] = str(_readable(settings.users_file, "users file"))
    if (settings.user is None) != (settings.password is None):
        raise ConfigError("a router's user name and password go together (--user and SIMREC_ZENOH_PASSWORD)")
    if settings.user is not None:
        overrides["transport/auth/usrpwd/user"] = settings.user
        overrides["transport/auth/usrpwd/password"] = settings.password
    for key, value in overrides.items():
        _insert(config, key, value, "the command line")
    return config


def endpoints_of(config: zenoh.Config, section: str) -> list[str]:
    """The ``listen`` or ``connect`` endpoints of ``config`` (a router's: the ones of its mode)."""
    value = json.loads(config.get_json(f"{section}/endpoints"))
    if isinstance(value, dict):
        value = value.get("router", [])
    return list(value or [])


def _left_unset(config: zenoh.Config, key: str) -> bool:
    """Whether ``config`` has Zenoh's default at ``key`` (a file that does not mention it)."""
    return config.get_json(key) == zenoh.Config().get_json(key)


def zenoh_reason(exc: Exception) -> str:
    """Zenoh's error text without the Rust source locations it carries (``at /root/...rs:86.``)."""
    text = re.sub(r" at \S+\.rs:\d+\.?", "", str(exc))
    match = re.search(r'msg: "(.*?)"', text)  # a JSON5 error wraps the message in a Rust struct
    return (match.group(1) if match else text).strip()


def _insert(config: zenoh.Config, key: str, value: object, where: str) -> None:
    try:
        config.insert_json5(key, json.dumps(value))
    except Exception as exc:  # zenoh validates endpoints and values here
        raise ConfigError(
            f"cannot set Zenoh {key} = {json.dumps(value)} from {where}: {zenoh_reason(exc)}"
        ) from exc


def _flatten(tree: dict, prefix: str = "") -> list[tuple[str, object]]:
    items: list[tuple[str, object]] = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        items += _flatten(value, f"{path}/") if isinstance(value, dict) else [(path, value)]
    return items


def _config_file(path: Path | str, named_by: str) -> zenoh.Config:
    try:
        return zenoh.Config.from_file(str(path))
    except Exception as exc:  # zenoh raises its own error type with a long message
        raise ConfigError(f"cannot use Zenoh config {path} ({named_by}): {zenoh_reason(exc)}") from exc


def _readable(path: Path, what: str) -> Path:
    if not Path(path).is_file():
        raise ConfigError(f"{what} {path} does not exist")
    return Path(path).resolve()


def _copy(tree: dict) -> dict:
    return json.loads(json.dumps(tree))


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
