"""``Recorder``: the in-process front end of the recording engine (``simrec_node.Recorder``).

No recorder process and no transport: ``log`` checks its input, serializes (one copy, so the
simulator may overwrite its buffers at once) and hands the message to the same engine
``simrec record`` runs (``simrec_node.record``): bounded queue, writer thread, flush +
``fdatasync`` every second, splitting, snapshots, a full disk, stats. The file has the layout
``simrec record`` produces (protobuf schemas, one channel per topic, ``log_time`` = wall clock
at ``log``, ``publish_time`` = sim time when given, per-topic sequence numbers counting every
message logged, so a dropped one is a gap; the ``simrec.recording`` and ``simrec.topic_stats``
metadata). ``publish=True`` also puts every message on the node graph; ``serve=True`` shows
them in Foxglove through the live bridge; ``control=True`` (implied by either) lets
``simrec recorder status|pause|split|snapshot`` reach this recorder.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import numbers
import os
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from simrec_node.graph import RawMessage, TypeInfo, resolve_topic
from simrec_node.graph.names import validate_node_name
from simrec_node.mcap import metadata as metadata_names
from simrec_node.mcap.writer import CHUNK_SIZE
from simrec_node.msgs import Episode
from simrec_node.msgs.tensor_codec import encode_tensor
from simrec_node.record import (
    EngineOptions,
    Item,
    LaterPayload,
    RecordingEngine,
    RecordingStats,
    TopicStats,
    prepare_output,
    prepare_split_output,
    recording_metadata,
)

from .episodes import EPISODE_TOPIC, EpisodeTracker
from .errors import (
    InvalidTimeError,
    MissingClockError,
    RecorderClosedError,
    RecorderNotClosedWarning,
    ServeUnavailableError,
    TopicTypeError,
)
from .genesis import GenesisRecording
from .values import TENSOR_INFO, TENSOR_KINDS, encode_array, encode_value

TENSOR_NAME = TENSOR_INFO.name

__all__ = ["Recorder"]

_WHEN_FULL = ("block", "drop")
_ON_DISK_FULL = ("stop", "pause")
_IMAGE_FORMATS = ("jpeg", "png")
_MAX_STAMP_NS = 2**64 - 1  # MCAP stores times as uint64 nanoseconds
_MAX_STEP = 2**63 - 1  # int64 in the message types
_MAX_SIM_TIME = 1.8e10  # s: below 2**64 ns however the float rounds (570 years)

# Recorders not closed yet: finished at interpreter exit (weak: a dropped one is collected).
_OPEN: weakref.WeakSet[Recorder] = weakref.WeakSet()


@atexit.register
def _close_open_recorders() -> None:
    for recorder in list(_OPEN):
        recorder._finish_forgotten("the interpreter is exiting")


@dataclass
class _Source:
    """A registered ``data_func`` sampled by ``step()``."""

    data_func: Callable[[], Any]
    topic: str
    period: float | None
    image: bool
    next_due: float | None = None
    wait: bool = False  # async_mode=False: step() returns once the sample is written


@dataclass(slots=True)
class _Topic:
    name: str  # resolved
    stats: TopicStats
    type_name: str = ""
    sequence: int = 0


def _stamp_ns(name: str, stamp_ns: Any) -> int:
    """``stamp_ns`` as MCAP stores it (uint64 ns), or an error naming the topic."""
    if stamp_ns.__class__ is int and 0 <= stamp_ns <= _MAX_STAMP_NS:
        return stamp_ns
    if isinstance(stamp_ns, bool) or not isinstance(stamp_ns, numbers.Integral):
        raise InvalidTimeError(f"stamp_ns on {name} must be an integer of nanoseconds, not {stamp_ns!r}")
    value = int(stamp_ns)
    if not 0 <= value <= _MAX_STAMP_NS:
        raise InvalidTimeError(f"stamp_ns on {name} is out of range: {value} (0 .. 2**64-1 ns)")
    return value


def _sim_stamp_ns(name: str, sim_time: Any) -> int:
    """``sim_time`` seconds as uint64 ns, or an error naming the topic."""
    if sim_time.__class__ is float and 0 <= sim_time < _MAX_SIM_TIME:  # NaN fails the compare
        return round(sim_time * 1e9)
    if isinstance(sim_time, bool) or not isinstance(sim_time, numbers.Real):
        raise InvalidTimeError(f"sim_time on {name} must be a number of seconds, not {sim_time!r}")
    value = float(sim_time)
    if not math.isfinite(value) or value < 0 or value >= _MAX_SIM_TIME:
        raise InvalidTimeError(f"sim_time on {name} must be >= 0 and finite, got {sim_time}")
    return round(value * 1e9)


def _check_step(name: str, step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or not 0 <= step <= _MAX_STEP:
        raise InvalidTimeError(f"step on {name} must be an integer from 0 to 2**63-1, not {step!r}")
    return int(step)


class _GraphShare:
    """Publishes each written message on the graph and forwards it to the live bridge; runs on
    the writer thread. Holds no reference to the ``Recorder`` (so an abandoned one is collected)."""

    def __init__(self, node: Any, bridge: Any, types: dict[str, TypeInfo]) -> None:
        self.node = node
        self.bridge = bridge
        self._types = types
        self._publishers: dict[str, Any] = {}
        self._failed = False

    def __call__(self, item: Item, data: bytes) -> None:
        _, topic, type_name, _, sequence, log_time, publish_time, _ = item
        try:
            publisher = self._publishers.get(topic)
            if publisher is None:
                publisher = self._publishers[topic] = self.node.create_publisher(
                    self._types[type_name], topic
                )
            publisher.publish(data, stamp_ns=publish_time)
            if self.bridge is not None:
                self.bridge.forward(
                    RawMessage(
                        topic, type_name, data, publisher.publisher_id, sequence, publish_time, log_time
                    )
                )
        except Exception as exc:  # the file comes first: say it once, keep recording
            if not self._failed:
                self._failed = True
                warnings.warn(f"simrec: cannot publish {topic} live: {exc}", stacklevel=1)

    def close(self) -> None:
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge = None
        if self.node is not None:
            self.node.shutdown()
            self.node = None


class Recorder(GenesisRecording):
    """Record a simulation in-process into ``path`` (an MCAP file, or a directory of numbered
    files when splitting or in snapshot mode).

    Args:
        path: output file; ``.mcap`` is appended when it has no suffix. A split or snapshot
            recording writes ``path/<name>_0.mcap``, ``path/<name>_1.mcap``, ...
        serve: also serve the messages live to Foxglove (WebSocket on 127.0.0.1:``serve_port``).
        publish: also publish every message on the node graph (``simrec record`` in another
            process and ``simrec serve`` then see them).
        control: answer ``simrec recorder status|pause|resume|split|snapshot`` over the graph
            (default: when ``publish`` or ``serve`` puts the recorder on the graph anyway).
        compression: ``"zstd"``, ``"lz4"`` or ``"none"``.
        overwrite: replace an existing file instead of refusing.
        queue_size: messages held for the writer thread before ``when_full`` applies.
        max_queue_bytes: bytes held for the writer thread before ``when_full`` applies.
        when_full: ``"block"`` the simulation until the writer catches up, or ``"drop"`` the
            message (counted per topic as ``queue_dropped``; its sequence number is a gap).
        image_format: ``"jpeg"`` or ``"png"`` (lossless) for ``log_image``.
        flush_interval: seconds between flushes (+ ``fdatasync``) of the open chunk: a killed
            process loses at most this much (``simrec recover`` rebuilds the file). 0: only
            full chunks.
        max_bag_size / max_bag_duration: start the next numbered file at this many bytes /
            seconds (as ``simrec record -b`` / ``--max-bag-duration``).
        snapshot: keep the last ``snapshot_max_bytes`` / ``snapshot_duration`` seconds in
            memory; ``snapshot()`` writes them to the next numbered file.
        min_free_space: close the file before the disk has fewer bytes free than this.
        on_disk_full: ``"stop"`` (close the file cleanly; the next ``log`` and ``close()`` raise)
            or ``"pause"`` (split recordings: wait for room, go on in the next file).
        start_paused: start paused (``resume()`` starts recording).
        dt: seconds of sim time per ``step()`` (Genesis' ``dt``): ``step()`` without ``sim_time``
            stamps its samples ``k * dt`` and samples ``hz`` sources by that clock.

    Genesis' recording calls are here too (``genesis.py``): ``start_recording(data_func, hz=,
    async_mode=)`` samples ``data_func`` at each ``step()``; ``stop_recording(save_to=)`` closes
    the log and writes ``save_to`` (``.npz`` with short keys, or ``.mp4``).

    Raises:
        OutputError: the file exists (without ``overwrite``) or cannot be written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        serve: bool = False,
        publish: bool = False,
        control: bool | None = None,
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
        flush_interval: float = 1.0,
        max_bag_size: int | None = None,
        max_bag_duration: float | None = None,
        snapshot: bool = False,
        snapshot_max_bytes: int = 256 * 1024 * 1024,
        snapshot_duration: float | None = None,
        min_free_space: int = 0,
        on_disk_full: str = "stop",
        start_paused: bool = False,
        chunk_size: int = CHUNK_SIZE,
        dt: float | None = None,
    ) -> None:
        self._closed = True  # until the engine runs: __del__ and atexit leave it alone
        if dt is not None and not (isinstance(dt, int | float) and math.isfinite(dt) and dt > 0):
            raise InvalidTimeError(f"dt must be a positive number of seconds, not {dt!r}")
        self.dt: float | None = None if dt is None else float(dt)
        self._clock = 0.0  # the sim time of the next step() that gets none (with a dt)
        if when_full not in _WHEN_FULL:
            raise ValueError(f"when_full must be 'block' or 'drop', not {when_full!r}")
        if on_disk_full not in _ON_DISK_FULL:
            raise ValueError(f"on_disk_full must be 'stop' or 'pause', not {on_disk_full!r}")
        if image_format not in _IMAGE_FORMATS:
            raise ValueError(f"image_format must be 'jpeg' or 'png', not {image_format!r}")
        if queue_size < 1 or max_queue_bytes < 1:
            raise ValueError("queue_size and max_queue_bytes must be positive")
        if flush_interval < 0:
            raise ValueError(f"flush_interval must be >= 0 seconds, not {flush_interval}")
        if (max_bag_size is not None and max_bag_size <= 0) or (
            max_bag_duration is not None and max_bag_duration <= 0
        ):
            raise ValueError("max_bag_size and max_bag_duration must be positive")
        self.node_name = validate_node_name(node_name)
        options = EngineOptions(
            output=Path(path),
            compression=compression,
            chunk_size=chunk_size,
            max_queue_bytes=max_queue_bytes,
            max_queue_messages=queue_size,
            block_when_full=when_full == "block",
            flush_interval_s=flush_interval,
            max_file_bytes=max_bag_size,
            max_file_duration_s=max_bag_duration,
            snapshot_mode=snapshot,
            snapshot_max_bytes=snapshot_max_bytes,
            snapshot_duration_s=snapshot_duration,
            start_paused=start_paused,
            min_free_bytes=min_free_space,
            pause_on_disk_full=on_disk_full == "pause",
        )
        if options.split:
            self.path: Path = prepare_split_output(path, overwrite=overwrite).path
        else:
            self.path = prepare_output(path, overwrite=overwrite)
        options.output = self.path
        self.image_format = image_format
        self._types: dict[str, TypeInfo] = {}
        self._topics: dict[str, _Topic] = {}
        self._numbering = threading.Lock()
        self._sources: list[_Source] = []
        self._episodes = EpisodeTracker()
        self._step_calls = 0
        self._last_step = 0
        self._stepped = False
        self._last_time = 0.0
        self._share: _GraphShare | None = None
        self._control = None
        if control is None:
            control = serve or publish
        started_ns = time.time_ns()
        if serve or publish or control:
            self._share = self._join_graph(domain, serve, serve_port)
        metadata = {
            metadata_names.RECORDING: {
                **recording_metadata(
                    started_ns, self._share.node.domain if self._share else "", self.node_name
                ),
                "mode": "in-process",
            }
        }
        if meta:
            metadata[metadata_names.USER] = {str(k): str(v) for k, v in meta.items()}
        self._engine = engine = RecordingEngine(
            options,
            metadata=metadata,
            lookup_type=self._types.get,
            name=f"/{self.node_name}",
            on_written=self._share if (serve or publish) else None,
        )
        self.stats: RecordingStats = engine.stats
        try:
            engine.start()
            if control:
                from simrec_node.record.control import ControlServer

                self._control = ControlServer(self._share.node, engine)
        except BaseException:
            with contextlib.suppress(Exception):
                engine.close()
            if self._share is not None:
                self._share.close()
            if not options.split:
                self.path.unlink(missing_ok=True)
            raise
        self._closed = False
        self._offer = engine.offer
        _OPEN.add(self)

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
            InvalidNameError: ``topic`` is not a valid topic name.
            InvalidTimeError: ``sim_time``, ``stamp_ns`` or ``step`` is out of range.
            UnsupportedValueError: simrec has no message type for ``value``.
            TopicTypeError: ``topic`` was logged before with another type.
            RecorderClosedError: after ``close()``, or once writing the file failed.
        """
        log_time = time.time_ns()
        if self._closed or self._engine.write_error is not None:
            self._check_open()  # raises
        state = self._topics.get(topic)
        if state is None:
            state = self._new_topic(topic)
        name = state.name
        if stamp_ns is not None:
            publish_time = _stamp_ns(name, stamp_ns)
        elif sim_time is not None:
            publish_time = _sim_stamp_ns(name, sim_time)
        else:
            publish_time = log_time
        if step is not None:
            if step.__class__ is not int or not 0 <= step <= _MAX_STEP:  # the common case, cheaply
                step = _check_step(name, step)
            self._last_step, self._stepped = step, True
        if sim_time is not None:
            self._last_time = sim_time
        if value.__class__ is np.ndarray and not image:  # the common case, without the detours
            if value.dtype.kind in TENSOR_KINDS:
                try:
                    data = encode_tensor(value)
                except TypeError:  # a dtype the codec lacks: encode_array says which
                    data = encode_array(name, value)
            else:
                data = encode_array(name, value)  # raises, naming the topic and dtype
            type_name = TENSOR_NAME
            if type_name != state.type_name:
                self._set_type(state, TENSOR_INFO)
        else:
            encoded = encode_value(
                name,
                value,
                step=step,
                sim_time=sim_time,
                image=image,
                image_format=self.image_format,
                stamp_ns=publish_time,
            )
            type_name = encoded.type_info.name
            if type_name != state.type_name:
                self._set_type(state, encoded.type_info)
            data = encoded.data
        stats = state.stats
        with self._numbering:  # threads logging one topic get distinct numbers (a drop is a gap)
            stats.received += 1
            sequence = state.sequence
            state.sequence = sequence + 1
        if data is not None:
            self._offer((stats, name, type_name, data, sequence, log_time, publish_time, len(data)))
        else:
            later = LaterPayload(encoded.finish)
            self._offer((stats, name, type_name, later, sequence, log_time, publish_time, encoded.host_bytes))

    def log_image(
        self, topic: str, image: Any, *, sim_time: float | None = None, stamp_ns: int | None = None
    ) -> None:
        """Record an HxWx3 uint8 frame as a ``foxglove.CompressedImage`` (``image_format``)."""
        self.log(topic, image, sim_time=sim_time, stamp_ns=stamp_ns, image=True)

    def add_metadata(self, name: str, values: dict[str, str]) -> None:
        """Write an MCAP metadata record (in order with the messages logged so far)."""
        self._check_open()
        if not isinstance(name, str) or not name:
            raise ValueError(f"a metadata record needs a name (a non-empty string), not {name!r}")
        self._engine.add_metadata(name, {str(k): str(v) for k, v in values.items()})

    # ------------------------------------------------------------------ Genesis-style sampling

    def add(
        self,
        data_func: Callable[[], Any],
        topic: str,
        hz: float | None = None,
        *,
        image: bool = False,
        async_mode: bool = True,
    ) -> None:
        """Register ``data_func``: ``step()`` calls it and logs what it returns on ``topic``.

        With ``hz`` it is sampled at that rate of simulated time, which ``step`` takes from its
        ``sim_time`` or from a ``dt`` (the Recorder's or the call's); without ``hz``, on every
        ``step()``. ``async_mode`` (Genesis' option): True writes the sample on the writer
        thread (the sim goes on at once); False makes ``step()`` return once it is written.
        """
        if hz is not None and hz <= 0:
            raise ValueError(f"hz must be positive, got {hz}")
        self._check_open()
        name = self._resolve(topic)
        source = _Source(data_func, name, None if hz is None else 1.0 / hz, image)
        source.wait = not async_mode
        self._sources.append(source)

    def step(
        self, *, sim_time: float | None = None, step: int | None = None, dt: float | None = None
    ) -> None:
        """Sample the registered data functions that are due at this step.

        The step's sim time is ``sim_time``, else the clock ``dt`` keeps (``dt`` here, else the
        Recorder's): 0 at the first step, then ``dt`` later at each. Without either, sources
        added with ``hz`` have no clock to be sampled by: ``MissingClockError``.

        Raises:
            MissingClockError: a source has ``hz`` and there is neither ``sim_time`` nor ``dt``.
        """
        if dt is not None and not (isinstance(dt, int | float) and math.isfinite(dt) and dt > 0):
            raise InvalidTimeError(f"dt must be a positive number of seconds, not {dt!r}")
        dt = self.dt if dt is None else dt
        if sim_time is None and dt is not None:
            sim_time = self._clock
        if sim_time is None and any(source.period is not None for source in self._sources):
            hz = next(round(1 / s.period, 6) for s in self._sources if s.period is not None)
            raise MissingClockError(
                f"rec.step() has no sim time for {hz:g} Hz sampling: pass sim_time= to step(), "
                "or dt= to Recorder(...) or step()"
            )
        if sim_time is not None and dt is not None:
            self._clock = sim_time + dt
        if step is None:
            step = self._step_calls
        self._step_calls += 1
        self._last_step, self._stepped = step, True
        if sim_time is not None:
            self._last_time = sim_time
        wait = False
        for source in self._sources:
            if source.period is not None:
                assert sim_time is not None  # checked above
                if source.next_due is None:
                    source.next_due = sim_time
                if sim_time + 1e-9 < source.next_due:
                    continue
                source.next_due += source.period
                if source.next_due <= sim_time:  # fell behind (a big step): resume from now
                    source.next_due = sim_time + source.period
            self.log(source.topic, source.data_func(), sim_time=sim_time, step=step, image=source.image)
            wait = wait or source.wait
        if wait:
            self.sync()

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

    # ------------------------------------------------------------------ control

    @property
    def paused(self) -> bool:
        return self._engine.paused

    def pause(self) -> None:
        """Stop recording what is logged (counted per topic as ``paused_skipped``) until ``resume()``."""
        self._engine.pause()

    def resume(self) -> None:
        self._engine.resume()

    def split(self) -> Path:
        """Close the open file now and go on in the next (needs ``max_bag_size`` or
        ``max_bag_duration``); returns the file just closed."""
        self._check_open()
        return self._engine.split()

    def snapshot(self) -> Path:
        """Write the snapshot buffer to the next numbered file (``snapshot=True``); returns it."""
        self._check_open()
        return self._engine.snapshot()

    def status(self) -> dict[str, object]:
        """State, files and counts, as ``simrec recorder status --json`` shows them."""
        return self._engine.status()

    @property
    def files(self) -> list[Path]:
        """The files written so far, the open one last."""
        return self._engine.files

    @property
    def notices(self) -> list[str]:
        """What the recording has to say (each pause for a full disk, a file left unindexed)."""
        return self._engine.notices

    # ------------------------------------------------------------------ lifecycle

    def sync(self, timeout: float | None = None) -> bool:
        """Wait until everything logged so far is written; False if ``timeout`` passed first."""
        return self._engine.sync(timeout)

    def close(self) -> None:
        """Write what is queued, the topic stats and the MCAP summary; close the file.

        Safe to call twice. The file is complete and indexed even when writing failed (a full
        disk: it holds what fit, and its stats count just that); ``RecorderClosedError`` then
        says what happened."""
        if self._closed:
            return
        self._closed = True
        _OPEN.discard(self)
        try:
            self._engine.close()
        except OSError as exc:  # the summary itself did not fit: one clear error, not a bare OSError
            raise RecorderClosedError(
                f"closing {self.path} failed: {exc.strerror or exc}; `simrec recover {self.path}` "
                "rebuilds what is there"
            ) from exc
        finally:
            if self._control is not None:
                self._control.close()
                self._control = None
            if self._share is not None:
                self._share.close()
                self._share = None
        error = self._engine.write_error
        if error is not None:
            raise RecorderClosedError(f"recording to {self.path} failed: {error}") from error

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def live_url(self) -> str | None:
        """The Foxglove URL with ``serve=True``, else None."""
        bridge = self._share.bridge if self._share is not None else None
        return bridge.url if bridge is not None else None

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

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self._finish_forgotten("it was garbage-collected")

    def _finish_forgotten(self, why: str) -> None:
        """Finish a file its owner never closed, and say so: data is kept, the mistake is heard."""
        with contextlib.suppress(Exception):
            warnings.warn(
                f"simrec: the Recorder of {self.path} was not closed; {why}, so it is closed now "
                "(call close() or use `with Recorder(...)`)",
                RecorderNotClosedWarning,
                stacklevel=2,
            )
        with contextlib.suppress(Exception):
            self.close()

    # ------------------------------------------------------------------ caller-side internals

    def _check_open(self) -> None:
        if self._closed:
            raise RecorderClosedError(f"the recorder of {self.path} is closed: log before close()")
        error = self._engine.write_error
        if error is not None:
            raise RecorderClosedError(f"recording to {self.path} failed: {error}") from error

    def _resolve(self, topic: str) -> str:
        return resolve_topic(topic, "/", self.node_name)

    def _new_topic(self, topic: str) -> _Topic:
        name = self._resolve(topic)
        with self._numbering:  # two threads' first messages on one topic make one topic
            return self._add_topic(topic, name)

    def _add_topic(self, topic: str, name: str) -> _Topic:
        for state in self._topics.values():  # "x" and "/x" are one topic
            if state.name == name:
                break
        else:
            state = _Topic(name, self.stats.topic(name))
        self._topics[topic] = state
        return state

    def _set_type(self, state: _Topic, type_info: TypeInfo) -> None:
        with self._numbering:  # two threads' first messages on a topic: the second finds it set
            if state.type_name == type_info.name:
                return
            if state.type_name:
                raise TopicTypeError(
                    f"{state.name} carries {state.type_name}, cannot log a {type_info.name} on it: "
                    "use another topic"
                )
            self._types.setdefault(type_info.name, type_info)
            state.type_name = type_info.name

    # ------------------------------------------------------------------ graph and live view

    def _join_graph(self, domain: str | None, serve: bool, serve_port: int) -> _GraphShare:
        from simrec_node.graph import Node

        bridge = None
        if serve:
            bridge = _start_bridge(domain, serve_port)
        try:
            node = Node(self.node_name, domain=domain)
        except BaseException:
            if bridge is not None:
                bridge.stop()
            raise
        share = _GraphShare(node, bridge, self._types)
        if bridge is not None:
            engine_ref = weakref.ref(self)
            bridge.yield_to(lambda: (r := engine_ref()) is not None and r._engine.is_behind())
        return share


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
