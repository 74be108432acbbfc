"""``Recorder``: record from inside the simulation process straight into an MCAP file.

No recorder process and no transport: ``log`` serializes (one copy, so the simulator may
overwrite its buffers at once) and queues; a writer thread writes the MCAP file with the same
layout ``simrec record`` produces (protobuf schemas, one channel per topic, ``log_time`` = wall
clock at ``log``, ``publish_time`` = sim time when given, per-topic sequence numbers, the
``simrec.recording`` and ``simrec.topic_stats`` metadata). ``publish=True`` also puts every
message on the node graph; ``serve=True`` shows them in Foxglove through the live bridge.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from simrec_node.graph import resolve_topic
from simrec_node.msgs import Episode
from simrec_node.record import RecordingStats, TopicStats, open_writer, prepare_output, writer_behind
from simrec_node.version import __version__

from .episodes import EPISODE_TOPIC, EpisodeTracker
from .errors import RecorderClosedError, ServeUnavailableError, TopicTypeError
from .values import Encoded, encode_value

__all__ = ["Recorder"]

_WHEN_FULL = ("block", "drop")
_IMAGE_FORMATS = ("jpeg", "png")


@dataclass
class _Source:
    """A registered ``data_func`` sampled by ``step()``."""

    data_func: Callable[[], Any]
    topic: str
    period: float | None
    image: bool
    next_due: float | None = None


@dataclass
class _Topic:
    stats: TopicStats
    type_name: str
    sequence: int = 0


# A queued message: (topic, stats, encoded, log_time, publish_time, sequence, size).
# A queued metadata record has topic None and (name, values) in place of stats/encoded.
_Item = tuple


class Recorder:
    """Record a simulation in-process into ``path`` (an MCAP file).

    Args:
        path: output file; ``.mcap`` is appended when it has no suffix.
        serve: also serve the messages live to Foxglove (WebSocket on 127.0.0.1:``serve_port``).
        publish: also publish every message on the node graph (``simrec record`` in another
            process and ``simrec serve`` then see them).
        compression: ``"zstd"``, ``"lz4"`` or ``"none"``.
        overwrite: replace an existing file instead of refusing.
        queue_size: messages held for the writer thread before ``when_full`` applies.
        max_queue_bytes: bytes held for the writer thread before ``when_full`` applies.
        when_full: ``"block"`` the simulation until the writer catches up, or ``"drop"`` the
            message (counted per topic as ``queue_dropped``).
        image_format: ``"jpeg"`` or ``"png"`` (lossless) for ``log_image``.

    Raises:
        OutputError: the file exists (without ``overwrite``) or cannot be written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        serve: bool = False,
        publish: bool = False,
        compression: str = "zstd",
        overwrite: bool = False,
        queue_size: int = 1024,
        max_queue_bytes: int = 256 * 1024 * 1024,
        when_full: str = "block",
        image_format: str = "jpeg",
        domain: str | None = None,
        node_name: str = "simrec_inprocess",
        serve_port: int = 8765,
        meta: dict[str, str] | None = None,
    ) -> None:
        if when_full not in _WHEN_FULL:
            raise ValueError(f"when_full must be 'block' or 'drop', not {when_full!r}")
        if image_format not in _IMAGE_FORMATS:
            raise ValueError(f"image_format must be 'jpeg' or 'png', not {image_format!r}")
        if queue_size < 1 or max_queue_bytes < 1:
            raise ValueError("queue_size and max_queue_bytes must be positive")
        self.path: Path = prepare_output(path, overwrite=overwrite)
        self.image_format = image_format
        self.stats = RecordingStats()
        self._block = when_full == "block"
        self._queue_size = queue_size
        self._max_bytes = max_queue_bytes
        self._queue: deque[_Item] = deque()
        self._queued_bytes = 0
        self._cond = threading.Condition()
        self._writer_idle = False
        self._closing = False
        self._closed = False
        self._error: BaseException | None = None
        self._topics: dict[str, _Topic] = {}
        self._names: dict[str, str] = {}
        self._sources: list[_Source] = []
        self._episodes = EpisodeTracker()
        self._step_calls = 0
        self._last_step = 0
        self._stepped = False
        self._last_time = 0.0
        self._node = None
        self._bridge = None
        self._writer = open_writer(self.path, compression=compression, library=f"simrec {__version__}")
        try:
            if serve or publish:
                self._join_graph(domain, node_name, serve, serve_port)
            self._writer.add_metadata("simrec.recording", self._recording_metadata(node_name))
            if meta:
                self._writer.add_metadata("simrec.meta", {str(k): str(v) for k, v in meta.items()})
        except BaseException:
            self._leave_graph()
            self._writer.close()
            self.path.unlink(missing_ok=True)
            raise
        self._publishers: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._write_loop, name="simrec in-process writer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ logging

    def log(
        self,
        topic: str,
        value: Any,
        *,
        sim_time: float | None = None,
        step: int | None = None,
        stamp_ns: int | None = None,
        image: bool = False,
    ) -> None:
        """Record ``value`` on ``topic`` (see ``encode_value`` for the types it takes).

        ``sim_time`` (seconds) becomes the message's publish time; ``stamp_ns`` overrides it.
        The value is copied before this returns, so the caller may reuse its buffers.

        Raises:
            UnsupportedValueError: simrec has no message type for ``value``.
            TopicTypeError: ``topic`` was logged before with another type.
            RecorderClosedError: after ``close()``, or once writing the file failed.
        """
        log_time = time.time_ns()
        self._check_open()
        name = self._names.get(topic) or self._resolve(topic)
        if stamp_ns is not None:
            publish_time = int(stamp_ns)
        elif sim_time is not None:
            if sim_time < 0:
                raise ValueError(f"sim_time must be >= 0, got {sim_time} on {name}")
            publish_time = round(sim_time * 1e9)
        else:
            publish_time = log_time
        if step is not None:
            self._last_step, self._stepped = step, True
        if sim_time is not None:
            self._last_time = sim_time
        encoded = encode_value(
            name,
            value,
            step=step,
            sim_time=sim_time,
            image=image,
            image_format=self.image_format,
            stamp_ns=publish_time,
        )
        self._enqueue(name, encoded, log_time, publish_time)

    def log_image(
        self, topic: str, image: Any, *, sim_time: float | None = None, stamp_ns: int | None = None
    ) -> None:
        """Record an HxWx3 uint8 frame as a ``foxglove.CompressedImage`` (``image_format``)."""
        self.log(topic, image, sim_time=sim_time, stamp_ns=stamp_ns, image=True)

    def add_metadata(self, name: str, values: dict[str, str]) -> None:
        """Write an MCAP metadata record (in order with the messages logged so far)."""
        self._check_open()
        values = {str(k): str(v) for k, v in values.items()}
        with self._cond:
            self._queue.append((None, name, values, 0, 0, 0, 0))
            if self._writer_idle:
                self._cond.notify_all()

    # ------------------------------------------------------------------ Genesis-style sampling

    def add(
        self, data_func: Callable[[], Any], topic: str, hz: float | None = None, *, image: bool = False
    ) -> None:
        """Register ``data_func``: ``step()`` calls it and logs what it returns on ``topic``.

        With ``hz`` it is sampled at that rate of simulated time (when ``step`` gets
        ``sim_time``); without, or without sim time, on every ``step()``.
        """
        if hz is not None and hz <= 0:
            raise ValueError(f"hz must be positive, got {hz}")
        self._check_open()
        name = self._resolve(topic)
        self._sources.append(_Source(data_func, name, None if hz is None else 1.0 / hz, image))

    def step(self, *, sim_time: float | None = None, step: int | None = None) -> None:
        """Sample the registered data functions that are due at this step."""
        if step is None:
            step = self._step_calls
        self._step_calls += 1
        self._last_step, self._stepped = step, True
        if sim_time is not None:
            self._last_time = sim_time
        for source in self._sources:
            if source.period is not None and sim_time is not None:
                if source.next_due is None:
                    source.next_due = sim_time
                if sim_time + 1e-9 < source.next_due:
                    continue
                source.next_due += source.period
                if source.next_due <= sim_time:  # fell behind (a big step): resume from now
                    source.next_due = sim_time + source.period
            self.log(source.topic, source.data_func(), sim_time=sim_time, step=step, image=source.image)

    # ------------------------------------------------------------------ episodes

    def reset(
        self,
        env_index: int | Iterable[int] | None = None,
        *,
        step: int | None = None,
        sim_time: float | None = None,
    ) -> None:
        """Mark the start of new episodes (all environments seen so far, or ``env_index``).

        Without ``step`` the episodes start at the step after the last one seen.
        """
        if step is None:
            step = self._last_step + 1 if self._stepped else 0
        sim_time = self._last_time if sim_time is None else sim_time
        if env_index is None:
            indices: Iterable[int] = self._episodes.known() or [0]
        elif isinstance(env_index, int):
            indices = [env_index]
        else:
            indices = [int(i) for i in env_index]
        for index in indices:
            self._episodes.start(index, step, sim_time)

    def episode_end(
        self,
        env_index: int = 0,
        *,
        return_: float,
        length: int | None = None,
        success: bool | None = None,
        terminated: bool = False,
        truncated: bool = False,
        step: int | None = None,
        sim_time: float | None = None,
    ) -> Episode:
        """Write a ``simrec.Episode`` on ``/episodes`` for the episode of ``env_index`` ending now."""
        step = self._last_step if step is None else step
        sim_time = self._last_time if sim_time is None else sim_time
        episode = self._episodes.end(
            int(env_index),
            step=step,
            sim_time=sim_time,
            return_=return_,
            length=length,
            success=success,
            terminated=terminated,
            truncated=truncated,
        )
        self.log(EPISODE_TOPIC, episode, sim_time=sim_time, step=step)
        return episode

    # ------------------------------------------------------------------ lifecycle

    def sync(self, timeout: float | None = None) -> bool:
        """Wait until everything logged so far is written; False if ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queue or not self._writer_idle:
                if self._error is not None or not self._thread.is_alive():
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.05 if remaining is None else min(remaining, 0.05))
        return True

    def close(self) -> None:
        """Write what is queued, the topic stats and the MCAP summary; close the file.

        Safe to call twice. Raises ``RecorderClosedError`` if writing the file failed.
        """
        if self._closed:
            return
        self._closed = True
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        try:
            if self._error is None:
                self._writer.add_metadata("simrec.topic_stats", self.stats.as_metadata())
            self._writer.close()
        finally:
            self._leave_graph()
        if self._error is not None:
            raise RecorderClosedError(f"recording to {self.path} failed: {self._error}") from self._error

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def live_url(self) -> str | None:
        """The Foxglove URL with ``serve=True``, else None."""
        return self._bridge.url if self._bridge is not None else None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
            return
        with contextlib.suppress(RecorderClosedError):  # keep the file valid, let the error through
            self.close()

    # ------------------------------------------------------------------ caller-side internals

    def _check_open(self) -> None:
        if self._closed:
            raise RecorderClosedError(f"the recorder of {self.path} is closed: log before close()")
        if self._error is not None:
            raise RecorderClosedError(f"recording to {self.path} failed: {self._error}")

    def _resolve(self, topic: str) -> str:
        name = resolve_topic(topic)
        self._names[topic] = name
        return name

    def _enqueue(self, name: str, encoded: Encoded, log_time: int, publish_time: int) -> None:
        size = encoded.queued_bytes
        type_name = encoded.type_info.name
        with self._cond:
            state = self._topics.get(name)
            if state is None:
                state = self._topics[name] = _Topic(self.stats.topic(name), type_name)
            elif state.type_name != type_name:
                raise TopicTypeError(
                    f"{name} carries {state.type_name}, cannot log a {type_name} on it: use another topic"
                )
            stats = state.stats
            stats.received += 1
            if not self._has_room(size):
                stats.queue_dropped += 1
                return
            self._queue.append((name, stats, encoded, log_time, publish_time, state.sequence, size))
            state.sequence += 1
            self._queued_bytes += size
            if self._writer_idle:
                self._cond.notify_all()

    def _has_room(self, size: int) -> bool:
        """Called with the lock held; waits for room when blocking. False: drop the message."""
        while len(self._queue) >= self._queue_size or (
            self._queued_bytes and self._queued_bytes + size > self._max_bytes
        ):
            if not self._block or self._error is not None or not self._thread.is_alive():
                return False
            self._cond.wait(0.1)
        return True

    def _recording_metadata(self, node_name: str) -> dict[str, str]:
        return {
            "simrec_version": __version__,
            "command_line": " ".join(sys.argv),
            "host": socket.gethostname(),
            "start_time_ns": str(time.time_ns()),
            "domain": self._node.domain if self._node is not None else "",
            "node_name": node_name,
            "mode": "in-process",
        }

    # ------------------------------------------------------------------ graph and live view

    def _join_graph(self, domain: str | None, node_name: str, serve: bool, serve_port: int) -> None:
        from simrec_node.graph import Node

        if serve:
            self._bridge = _start_bridge(domain, serve_port)
            self._bridge.yield_to(self._is_behind)
        self._node = Node(node_name, domain=domain)

    def _is_behind(self) -> bool:
        return writer_behind(self._queued_bytes, self._max_bytes)

    def _leave_graph(self) -> None:
        if self._bridge is not None:
            self._bridge.stop()
            self._bridge = None
        if self._node is not None:
            self._node.shutdown()
            self._node = None

    def _share(self, topic: str, encoded: Encoded, data: bytes, sequence: int, times: Sequence[int]) -> None:
        """Publish on the graph (which also serves the schema the bridge asks for) and forward live."""
        publisher = self._publishers.get(topic)
        if publisher is None:
            publisher = self._publishers[topic] = self._node.create_publisher(encoded.type_info, topic)
        publisher.publish(data, stamp_ns=times[1])
        if self._bridge is not None:
            from simrec_node.graph import RawMessage

            self._bridge.forward(
                RawMessage(
                    topic, encoded.type_info.name, data, publisher.publisher_id, sequence, times[1], times[0]
                )
            )

    # ------------------------------------------------------------------ writer thread

    def _write_loop(self) -> None:
        writer = self._writer
        write = writer.write
        channels: dict[str, int] = {}
        cond = self._cond
        unwritten: list[_Item] = []
        try:
            while True:
                with cond:
                    while not self._queue and not self._closing:
                        self._writer_idle = True
                        cond.notify_all()  # sync() waiters
                        cond.wait()
                    self._writer_idle = False
                    if not self._queue:
                        self._writer_idle = True
                        cond.notify_all()
                        return
                    batch = list(self._queue)
                    self._queue.clear()
                    self._queued_bytes = 0
                    cond.notify_all()  # room for blocked loggers
                for done, item in enumerate(batch):
                    unwritten = batch[done:]
                    topic = item[0]
                    if topic is None:
                        writer.add_metadata(item[1], item[2])
                        continue
                    _, stats, encoded, log_time, publish_time, sequence, _ = item
                    data = encoded.payload()
                    channel_id = channels.get(topic)
                    if channel_id is None:
                        info = encoded.type_info
                        schema_id = writer.add_schema(info.name, "protobuf", info.descriptor_set)
                        channel_id = channels[topic] = writer.add_channel(topic, "protobuf", schema_id)
                    write(channel_id, sequence, log_time, publish_time, data)
                    stats.written += 1
                    stats.bytes_written += len(data)
                    if self._node is not None:
                        self._share(topic, encoded, data, sequence, (log_time, publish_time))
        except BaseException as exc:  # a full disk must not pass silently: log() and close() report it
            self._error = exc
            with cond:
                for item in [*unwritten, *self._queue]:
                    if item[0] is not None:
                        item[1].queue_dropped += 1
                self._queue.clear()
                self._writer_idle = True
                cond.notify_all()


def _start_bridge(domain: str | None, port: int) -> Any:
    """The live bridge (simrec_node.live) on 127.0.0.1, or a clear error where there is none."""
    try:
        from simrec_node.live import LiveBridge, LiveOptions
    except ImportError as exc:
        raise ServeUnavailableError(
            f"serve=True needs the live bridge, which cannot be loaded here ({exc}): "
            "use publish=True and run `simrec serve` in another terminal"
        ) from None
    bridge = LiveBridge(LiveOptions(port=port, domain=domain, node_name="simrec_inprocess_live"))
    bridge.start()
    return bridge
