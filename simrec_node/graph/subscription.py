"""Subscriptions: Zenoh samples turned into messages on a thread of their own."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import zenoh
import zenoh.ext
from google.protobuf.message import Message

from .discovery import token_key
from .names import has_wildcards, key_to_topic, topic_to_key
from .qos import Durability, QoS, Reliability
from .types import TypeInfo
from .wire import HEADER_SIZE, RawMessage, type_name_of, unpack_header

log = logging.getLogger("simrec.graph")
_MAX_SOURCES = 65536  # publishers remembered per subscription before the cache starts over


class Subscription:
    """Delivers messages of one topic (or topic pattern) to a callback.

    With a message type the callback gets decoded messages; with ``None`` it gets
    ``RawMessage`` (bytes plus type name, publisher id, sequence and stamps) and the type's
    schema is looked up with ``Node.lookup_type``. Callbacks run on this subscription's own
    thread, in arrival order. Reliable subscriptions queue up to ``qos.depth`` messages
    and then hold the transport back; best-effort ones keep only the newest ``depth``.
    """

    def __init__(
        self,
        session: zenoh.Session,
        domain: str,
        topic: str,
        type_info: TypeInfo | None,
        callback: Callable[[Any], None],
        qos: QoS,
        message_class: type[Message] | None = None,
    ) -> None:
        self.topic = topic
        self.type_info = type_info
        self.qos = qos
        self.received = 0
        self.type_mismatches = 0
        self.callback_errors = 0
        self._domain = domain
        self._callback = callback
        if type_info is not None and message_class is None:
            message_class = type_info.message_class
        self._decode = message_class.FromString if message_class is not None else None
        self._topics_by_key: dict[str, str] = {}
        self._types_by_encoding: dict[str, str] = {}
        self._sources: dict[int, tuple[str, str]] = {}  # publisher id -> (topic, type name)
        key = topic_to_key(domain, topic)
        handler = (
            zenoh.handlers.FifoChannel(qos.depth)
            if qos.reliability is Reliability.RELIABLE
            else zenoh.handlers.RingChannel(qos.depth)
        )
        if qos.durability is Durability.TRANSIENT_LOCAL:
            self._zenoh_subscriber = zenoh.ext.declare_advanced_subscriber(
                session,
                key,
                handler,
                history=zenoh.ext.HistoryConfig(detect_late_publishers=True, max_samples=qos.depth),
            )
        else:
            self._zenoh_subscriber = session.declare_subscriber(key, handler)
        self._token = None
        if not has_wildcards(topic):
            self._token = session.liveliness().declare_token(
                token_key(domain, "sub", random.getrandbits(63), type_info.name if type_info else "", topic)
            )
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"sub {topic}", daemon=True)
        self._thread.start()

    def _topic_of(self, key: str) -> str:
        topic = self._topics_by_key.get(key)
        if topic is None:
            topic = self._topics_by_key[key] = key_to_topic(self._domain, key)
        return topic

    def _type_of(self, encoding: str) -> str:
        type_name = self._types_by_encoding.get(encoding)
        if type_name is None:
            type_name = self._types_by_encoding[encoding] = type_name_of(encoding)
        return type_name

    def _run(self) -> None:
        for sample in self._zenoh_subscriber:
            try:
                self._deliver(sample)
            except Exception:
                self.callback_errors += 1
                if self.callback_errors == 1:  # once, with the traceback; a flood helps nobody
                    log.exception(
                        "callback of subscription %s raised (later errors only counted)", self.topic
                    )

    def _deliver(self, sample: zenoh.Sample) -> None:
        attachment = sample.attachment
        header = attachment.to_bytes() if attachment is not None else b""
        if len(header) == HEADER_SIZE:
            publisher_id, sequence, stamp = unpack_header(header)
            # A simrec publisher keeps its key and type for life: read them once per publisher
            # (str() of a sample's encoding and key costs 0.8 us, about what the rest of this takes).
            source = self._sources.get(publisher_id)
            if source is None:
                if len(self._sources) >= _MAX_SOURCES:
                    self._sources.clear()
                source = self._sources[publisher_id] = (
                    self._topic_of(str(sample.key_expr)),
                    self._type_of(str(sample.encoding)),
                )
            topic, type_name = source
        else:  # a plain Zenoh publisher outside simrec
            publisher_id, sequence, stamp = 0, self.received, time.time_ns()
            topic, type_name = self._topic_of(str(sample.key_expr)), self._type_of(str(sample.encoding))
        self.received += 1
        if self._decode is not None:
            if type_name != self.type_info.name:
                self.type_mismatches += 1
                if self.type_mismatches == 1:
                    log.warning(
                        "%s carries %s, not %s: skipping such messages",
                        self.topic,
                        type_name,
                        self.type_info.name,
                    )
                return
            self._callback(self._decode(sample.payload.to_bytes()))
            return
        self._callback(
            RawMessage(
                topic,
                type_name,
                sample.payload.to_bytes(),
                publisher_id,
                sequence,
                stamp,
                time.time_ns(),
            )
        )

    def close(self) -> None:
        """Stop taking messages; those already queued are still delivered before this returns."""
        if self._closed:
            return
        self._closed = True
        if self._token is not None:
            self._token.undeclare()
            self._token = None
        self._zenoh_subscriber.undeclare()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
