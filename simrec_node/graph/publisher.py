"""Publishers: serialized protobuf bytes onto a Zenoh key, stamped and numbered."""

from __future__ import annotations

import itertools
import random
import time
from typing import TYPE_CHECKING

import zenoh
import zenoh.ext
from google.protobuf.message import Message

from .discovery import token_key
from .names import topic_to_key
from .qos import Durability, QoS, Reliability
from .shared_memory import MIN_BYTES, RELIABLE_WAIT_S, SharedMemoryPool
from .types import TypeInfo
from .wire import encoding_for, pack_header

if TYPE_CHECKING:
    Payload = Message | bytes | bytearray | memoryview


class Publisher:
    """Publishes one message type on one topic. Created by ``Node.create_publisher``.

    ``publish`` accepts a protobuf message or bytes that are already a serialized message
    of this type (the fast path for tensor batches and replayed logs). Payloads of 64 KiB and
    more are copied into ``pool`` (shared memory) first, so they reach other processes on this
    machine without a socket.
    """

    def __init__(
        self,
        session: zenoh.Session,
        domain: str,
        topic: str,
        type_info: TypeInfo,
        qos: QoS,
        pool: SharedMemoryPool | None = None,
    ) -> None:
        self.topic = topic
        self.type_info = type_info
        self.qos = qos
        self.publisher_id = random.getrandbits(63)
        self._sent = 0
        # next() on a count is atomic under the GIL: threads may share a publisher without a
        # lock (which cost more than the rest of publish() for small messages)
        self._sequences = itertools.count()
        key = topic_to_key(domain, topic)
        options = dict(
            encoding=encoding_for(type_info.name),
            congestion_control=qos.congestion_control,
            reliability=qos.zenoh_reliability,
        )
        # A late-joiner cache would pin its payloads' chunks in the pool for good.
        self._pool = pool if qos.durability is Durability.VOLATILE else None
        self._pool_wait_s = RELIABLE_WAIT_S if qos.reliability is Reliability.RELIABLE else 0.0
        if qos.durability is Durability.TRANSIENT_LOCAL:
            self._zenoh_publisher = zenoh.ext.declare_advanced_publisher(
                session,
                key,
                cache=zenoh.ext.CacheConfig(qos.depth),
                sample_miss_detection=zenoh.ext.MissDetectionConfig(),
                publisher_detection=True,
                **options,
            )
            # An advanced publisher reports no matching status: a plain one on the same key,
            # never put to, tells whether anyone subscribes.
            self._matching = session.declare_publisher(key, **options)
        else:
            self._zenoh_publisher = self._matching = session.declare_publisher(key, **options)
        self._token = session.liveliness().declare_token(
            token_key(domain, "pub", self.publisher_id, type_info.name, topic)
        )
        self._closed = False

    @property
    def sequence(self) -> int:
        """How many messages this publisher has sent (for a moment one less per other thread
        publishing at the same time)."""
        return self._sent

    @property
    def has_subscribers(self) -> bool:
        """True once some subscription on the graph matches this topic."""
        return self._matching.matching_status.matching

    def wait_for_subscribers(self, timeout_s: float = 5.0) -> bool:
        """Block until a matching subscription exists (or the timeout passes)."""
        deadline = time.monotonic() + timeout_s
        while not self.has_subscribers:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def publish(self, message: Payload, *, stamp_ns: int | None = None) -> None:
        """Send one message; ``stamp_ns`` becomes its publish time (default: wall clock now)."""
        data = message.SerializeToString() if isinstance(message, Message) else message
        stamp = time.time_ns() if stamp_ns is None else stamp_ns
        sequence = next(self._sequences)
        self._sent = sequence + 1
        # The match check (~1 us) spares the copy when nobody listens, as for a sim that logs
        # every step to an in-process recorder that shares it on the graph.
        if self._pool is not None and len(data) >= MIN_BYTES and self.has_subscribers:
            shared = self._pool.copy_in(data, self._pool_wait_s)
            if shared is not None:
                data = shared
        self._zenoh_publisher.put(data, attachment=pack_header(self.publisher_id, sequence, stamp))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._token.undeclare()
            if self._matching is not self._zenoh_publisher:
                self._matching.undeclare()
            self._zenoh_publisher.undeclare()
