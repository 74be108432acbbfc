"""Topic and node names, and how they map onto Zenoh key expressions.

ROS 2 naming, so launch files and habits carry over: ``/abs/topic``, ``relative`` (under the
node's namespace) and ``~/private`` (under the node's full name). Names are resolved, then
remapped, then turned into keys under ``simrec/<domain>/t/``. The domain plays the part of
``ROS_DOMAIN_ID``: graphs in different domains never see each other.
"""

from __future__ import annotations

import os
import re

from simrec_node.errors import SimrecError

DEFAULT_DOMAIN_ENV = "SIMREC_DOMAIN"
# fullmatch, never ``$``: ``$`` also matches before a trailing newline ("state\n" would pass).
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PATTERN_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\*|\*\*")
_DOMAIN = re.compile(r"[A-Za-z0-9_-]+")


class InvalidNameError(SimrecError, ValueError):
    """A topic, namespace or node name that breaks the naming rules."""


def default_domain() -> str:
    """The graph domain from ``SIMREC_DOMAIN`` (default ``0``)."""
    return validate_domain(os.environ.get(DEFAULT_DOMAIN_ENV, "0"))


def validate_domain(domain: str) -> str:
    if not isinstance(domain, str) or not _DOMAIN.fullmatch(domain):
        raise InvalidNameError(f"invalid graph domain {domain!r}: use letters, digits, '_' or '-'")
    return domain


def _check_tokens(name: str, what: str, allow_wildcards: bool = False) -> None:
    token = _PATTERN_TOKEN if allow_wildcards else _TOKEN
    parts = name[1:].split("/")  # "//x" has an empty part: refused, not read as "/x"
    if not name.startswith("/") or name == "/" or not all(token.fullmatch(p) for p in parts):
        hint = " ('*' and '**' may stand for whole parts)" if allow_wildcards else ""
        raise InvalidNameError(
            f"invalid {what} {name!r}: use /-separated parts of letters, digits and '_', "
            f"not starting with a digit{hint}"
        )


def normalize_namespace(namespace: str) -> str:
    """``'robot1'`` or ``'/robot1/'`` -> ``'/robot1'``; ``''`` -> ``'/'``."""
    ns = "/" + namespace.strip("/")
    if ns != "/":
        _check_tokens(ns, "namespace")
    return ns


def validate_node_name(name: str) -> str:
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise InvalidNameError(f"invalid node name {name!r}: use letters, digits and '_'")
    return name


def resolve_topic(
    topic: str, namespace: str = "/", node_name: str = "", *, allow_wildcards: bool = False
) -> str:
    """Resolve a topic as ROS 2 does: absolute stays, ``~`` is the node, else under namespace."""
    if not isinstance(topic, str) or not topic:
        raise InvalidNameError(f"invalid topic name {topic!r}: give a non-empty string such as '/sim/state'")
    ns = normalize_namespace(namespace)
    if topic.startswith("~"):
        if not node_name:
            raise InvalidNameError(
                f"invalid topic name {topic!r}: '~' stands for a node, and there is none here"
            )
        base = ns.rstrip("/") + "/" + node_name
        full = base + "/" + topic[1:].lstrip("/") if topic != "~" else base
    elif topic.startswith("/"):
        full = topic
    else:
        full = ns.rstrip("/") + "/" + topic
    full = full.rstrip("/") if len(full) > 1 else full
    _check_tokens(full, "topic name", allow_wildcards)
    return full


def topic_to_key(domain: str, topic: str) -> str:
    """``/robot/state`` in domain ``0`` -> ``simrec/0/t/robot/state``."""
    return f"simrec/{domain}/t/{topic.lstrip('/')}"


def key_to_topic(domain: str, key: str) -> str:
    prefix = f"simrec/{domain}/t/"
    if not key.startswith(prefix):
        raise InvalidNameError(f"key {key!r} is not a simrec topic of domain {domain!r}")
    return "/" + key[len(prefix) :]


def has_wildcards(topic: str) -> bool:
    return any(part in ("*", "**") for part in topic.split("/"))
