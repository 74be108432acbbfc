"""MCAP -> MP4: camera topics to H.264 video (yuv420p) through imageio-ffmpeg.

The output runs at a constant frame rate that keeps the recorded timing: each camera frame goes
to the output slot nearest its log time on a grid phase-locked to the camera (`FrameGrid`), so
arrival jitter moves no frame; frames are repeated where the camera was slower than ``fps`` (or
a frame is missing) and dropped where it was faster (or doubled); both are counted.
The rate defaults to the fps the Gymnasium wrappers record with a camera's clips (the env's
``render_fps``), else the topic's recorded rate (snapped to a whole number within 3%). A camera
whose messages carry sim time (an in-process or Gymnasium log, written in bursts of wall time)
is timed by its sim time instead: its rate and its frames' places on the grid.
Several topics go into one video with ``tile``; a directory output gets one video per topic.
All topics of all videos are read in one pass over the log.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from .errors import ConvertError
from .frame_grid import LOCK_BYTES, LOCK_FRAMES, FrameGrid
from .frames import FrameDecoder, overlay, pad_even, tile
from .output import atomic_output, check_directory, check_output, create_directory
from .reader import LogReader


@dataclass(frozen=True)
class Mp4Options:
    """What to encode and how (the ``simrec convert ... -o X.mp4`` options)."""

    topics: tuple[str, ...] = ()
    start: float | None = None
    end: float | None = None
    fps: float | None = None
    every: int = 1
    video_length: int | None = None
    overlay: bool = False
    tile: bool = False
    depth_range: tuple[float, float] | None = None
    quality: float = 5.0
    # Every recorded frame once, ignoring the gaps between them (Gymnasium RecordVideo's way):
    # for frames stamped with wall time by a loop that ran faster or slower than the sim.
    each_frame: bool = False


@dataclass
class VideoStats:
    """What went into one video (or its clips)."""

    topics: list[str]
    fps: float
    sim_time: bool = False  # frames timed by their sim time (publish_time), not by arrival
    files: list[Path] = field(default_factory=list)
    source_frames: int = 0
    frames: int = 0
    repeated: int = 0
    dropped: int = 0
    undecodable: int = 0
    resized: int = 0
    size: tuple[int, int] | None = None

    def describe(self) -> str:
        names = ", ".join(str(f) for f in self.files) or "(no file: no frames)"
        extra = [
            f"{n} {what}"
            for n, what in (
                (self.repeated, "repeated"),
                (self.dropped, "dropped"),
                (self.undecodable, "undecodable (skipped)"),
                (self.resized, "resized to the first frame's size"),
            )
            if n
        ]
        size = f" {self.size[0]}x{self.size[1]}" if self.size else ""
        return (
            f"{names}: {self.frames} frames{size} at {self.fps:g} fps from {self.source_frames} "
            f"{'+'.join(self.topics)} frames"
            + (" (timed by sim time)" if self.sim_time else "")
            + (f" ({', '.join(extra)})" if extra else "")
        )


class ClipWriter:
    """H.264 output in clips of ``clip_length`` frames (one file when None), each written under
    a temporary name and renamed when complete."""

    def __init__(self, target: Path, fps: float, clip_length: int | None, quality: float) -> None:
        self.target, self.fps, self.clip_length, self.quality = target, fps, clip_length, quality
        self.files: list[Path] = []
        self._gen = None
        self._temp: Path | None = None
        self._context = None
        self._in_clip = 0

    def _name(self) -> Path:
        if self.clip_length is None:
            return self.target
        return self.target.with_name(f"{self.target.stem}_{len(self.files):03d}{self.target.suffix}")

    def write(self, frame: np.ndarray) -> None:
        if self._gen is None:
            self._open(frame)
        self._gen.send(frame)
        self._in_clip += 1
        if self.clip_length is not None and self._in_clip == self.clip_length:
            self.close()

    def _open(self, frame: np.ndarray) -> None:
        final = self._name()
        self._context = atomic_output(final)
        self._temp = self._context.__enter__()
        height, width = frame.shape[:2]
        self._gen = imageio_ffmpeg.write_frames(
            str(self._temp),
            (width, height),
            fps=self.fps,
            codec="libx264",
            pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p",
            quality=self.quality,
            macro_block_size=1,  # frames are padded to even sizes here instead of rescaled
            ffmpeg_log_level="error",
        )
        self._gen.send(None)
        self.files.append(final)
        self._in_clip = 0

    def close(self) -> None:
        """Finish the open clip and move it to its final name."""
        if self._gen is None:
            return
        gen, context = self._gen, self._context
        self._gen = self._context = None
        try:
            gen.close()
        except BaseException as exc:
            context.__exit__(type(exc), exc, exc.__traceback__)
            raise
        context.__exit__(None, None, None)

    def abort(self) -> None:
        """Stop ffmpeg and delete the unfinished clip (finished clips stay)."""
        if self._gen is None:
            return
        gen, context = self._gen, self._context
        self._gen = self._context = None
        self.files.pop()
        with contextlib.suppress(Exception):  # ffmpeg may already have failed: the clip goes anyway
            gen.close()
        error = RuntimeError("aborted")
        context.__exit__(type(error), error, None)


class VideoJob:
    """One output video: the newest frame of each of its topics, sampled at a constant rate.

    Output slot ``k`` is centred on ``anchor + k * period``; a frame goes to the nearest slot, so
    arrival jitter under half a period moves no frame out of its slot. The anchor is phase-locked
    to the first topic's frames (see `FrameGrid`), so a steady camera at the video's rate comes
    out one video frame per image message.
    """

    def __init__(
        self, target: Path, topics: list[str], types: dict[str, str], fps: float, options: Mp4Options, t0: int
    ) -> None:
        self.topics = topics
        self.options = options
        self.t0 = t0
        self.stats = VideoStats(topics=topics, fps=fps)
        self.decoders = {t: FrameDecoder(types[t], options.depth_range) for t in topics}
        self.writer = ClipWriter(target, fps, options.video_length, options.quality)
        self.grid = FrameGrid(1e9 / fps)
        self.latest: dict[str, np.ndarray] = {}
        self.shown: dict[str, int] = {}  # times the current frame of each topic was written
        self.seen: dict[str, int] = dict.fromkeys(topics, 0)
        self.next_slot: int | None = None  # the next output slot to write
        self.last_slot: int | None = None  # the latest slot a frame went to
        self.tile_size: tuple[int, int] | None = None
        self._pending: list[tuple[str, int, bytes]] = []  # frames held while the grid locks
        self._pending_bytes = 0

    def add(self, topic: str, log_time: int, data: object) -> None:
        index = self.seen[topic]
        self.seen[topic] = index + 1
        if index % self.options.every:
            return
        if self.options.each_frame:
            if (frame := self._decode(topic, data)) is not None:
                self._replace(topic, frame)
                self._emit(float(log_time))
            return
        if self.grid.locked:
            self._place(topic, log_time, data)
            return
        self._pending.append((topic, log_time, bytes(data)))  # type: ignore[call-overload]
        self._pending_bytes += len(self._pending[-1][2])
        lead = [t for topic_, t, _ in self._pending if topic_ == self.topics[0]]
        if len(lead) >= LOCK_FRAMES or self._pending_bytes >= LOCK_BYTES:
            self._lock(lead)

    def _lock(self, lead_times: list[int]) -> None:
        self.grid.lock(lead_times or [t for _, t, _ in self._pending])
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        for topic, log_time, data in pending:
            self._place(topic, log_time, data)

    def _decode(self, topic: str, data: object) -> np.ndarray | None:
        try:
            frame = self.decoders[topic](data)
        except Exception:  # any decoder failure means the bytes are not a usable image
            self.stats.undecodable += 1
            return None
        self.stats.source_frames += 1
        return frame

    def _place(self, topic: str, log_time: int, data: object) -> None:
        frame = self._decode(topic, data)
        if frame is None:
            return
        slot = self.grid.place(log_time, follow=topic == self.topics[0])
        if self.next_slot is None:
            self.next_slot = slot
        while self.latest and self.next_slot < slot:
            self._emit(self.grid.time_of(self.next_slot))
            self.next_slot += 1
        self._replace(topic, frame)
        self.last_slot = max(slot, self.next_slot, self.last_slot if self.last_slot is not None else slot)

    def _replace(self, topic: str, frame: np.ndarray) -> None:
        if topic in self.latest:
            self._count(topic)
        self.latest[topic] = frame
        self.shown[topic] = 0
        if self.tile_size is None:
            self.tile_size = (frame.shape[1], frame.shape[0])

    def _count(self, topic: str) -> None:
        shown = self.shown[topic]
        if shown == 0:
            self.stats.dropped += 1
        else:
            self.stats.repeated += shown - 1

    def _emit(self, slot_time: float) -> None:
        if len(self.topics) == 1:
            frame = self.latest[self.topics[0]]
        else:
            frame = tile([self.latest.get(t) for t in self.topics], self.tile_size)
        if self.options.overlay:
            frame = overlay(frame, f"t={(slot_time - self.t0) / 1e9:.3f}s  frame {self.stats.frames}")
        frame = pad_even(frame)
        if self.stats.size is None:
            self.stats.size = (frame.shape[1], frame.shape[0])
        self.writer.write(frame)
        self.stats.frames += 1
        for topic in self.latest:
            self.shown[topic] += 1

    def finish(self) -> VideoStats:
        if self._pending:  # fewer frames than the lock waits for: lock on what there is
            self._lock([t for topic, t, _ in self._pending if topic == self.topics[0]])
        if self.latest and not self.options.each_frame and self.last_slot is not None:
            while self.next_slot <= self.last_slot:
                self._emit(self.grid.time_of(self.next_slot))
                self.next_slot += 1
            for topic in self.latest:
                self._count(topic)
        self.writer.close()
        self.stats.files = list(self.writer.files)
        self.stats.resized = sum(d.resized for d in self.decoders.values())
        return self.stats

    def abort(self) -> None:
        self.writer.abort()


def _safe_name(topic: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", topic.strip("/")) or "topic"


def _rate(reader: LogReader, topics: list[str], options: Mp4Options) -> float:
    if options.fps is not None:
        if not options.fps > 0:
            raise ConvertError(f"--fps must be positive, not {options.fps}")
        return float(options.fps)
    recorded = {c.get("fps") for c in reader.summary.clips if c.get("topic") in topics and c.get("fps")}
    if len(recorded) == 1:  # the env's render_fps, as the Gymnasium wrappers record it with each clip
        with contextlib.suppress(ValueError):
            fps = float(recorded.pop())
            if fps > 0:
                return fps / options.every
    sim = _sim_start(reader, topics) is not None
    rates = [
        t.sim_frequency_hz if sim else t.frequency_hz
        for t in reader.summary.topics
        if t.topic in topics and (t.sim_frequency_hz if sim else t.frequency_hz)
    ]
    if not rates:
        return 30.0 / options.every  # a single frame: any rate shows it
    rate = max(rates) / options.every
    nearest = round(rate)
    return float(nearest) if nearest and abs(rate - nearest) <= 0.03 * rate else round(rate, 3)


def _sim_start(reader: LogReader, topics: list[str]) -> int | None:
    """The first sim time of ``topics`` where they carry sim time (an in-process or Gymnasium
    camera, logged in bursts of wall time: its frames are timed by sim time); else None."""
    span = reader.sim_span(topics)
    return None if span is None else span[0]


def is_directory_output(output: str | os.PathLike[str]) -> bool:
    text = os.fspath(output)
    return text.endswith(("/", os.sep)) or Path(text).is_dir()


def _plan(
    reader: LogReader, output: str | os.PathLike[str], options: Mp4Options, overwrite: bool
) -> list[tuple[Path, list[str]]]:
    if options.every < 1:
        raise ConvertError(f"--every must be 1 or more, not {options.every}")
    if options.video_length is not None and options.video_length < 1:
        raise ConvertError(f"--video-length must be 1 or more frames, not {options.video_length}")
    if not is_directory_output(output):
        parent = Path(output).parent
        check_directory(parent if str(parent) else Path("."), for_file=Path(output))
    images = reader.image_topics
    topics = reader.resolve_topics(options.topics) if options.topics else []
    for topic in topics:
        if topic not in images:
            raise ConvertError(
                f"{topic} is {reader.topics[topic].type_name}, not an image topic; "
                f"image topics: {', '.join(images) or 'none'} (numeric topics convert to .npz)"
            )
    if is_directory_output(output):
        directory = Path(output)
        topics = topics or images
        if not topics:
            raise ConvertError(f"{reader.path} has no image topics; {reader.describe_topics()}")
        create_directory(directory)
        plan = [(directory / f"{_safe_name(t)}.mp4", [t]) for t in topics]
    else:
        if not topics:
            topics = images[:1] if len(images) == 1 else []
            if not topics:
                raise ConvertError(
                    f"name the camera topic with --topic (image topics: {', '.join(images) or 'none'}), "
                    "or give a directory (-o DIR/) for one video per topic"
                )
        if len(topics) > 1 and not options.tile:
            raise ConvertError("several topics into one video need --tile; or give a directory: -o DIR/")
        plan = [(Path(output), topics)]
    for target, _ in plan:
        if options.video_length is None:
            check_output(target, overwrite=overwrite)
        else:
            first = target.with_name(f"{target.stem}_000{target.suffix}")
            check_output(first, overwrite=overwrite)
    return plan


def convert_to_mp4(
    reader: LogReader,
    output: str | os.PathLike[str],
    options: Mp4Options = Mp4Options(),
    *,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[VideoStats]:
    """Encode camera topics to MP4: one video for ``output.mp4``, one per topic for a directory."""
    plan = _plan(reader, output, options, overwrite)
    types = {t: reader.topics[t].type_name for _, topics in plan for t in topics}
    t0 = reader.time_window(options.start, None)[0] or reader.start_ns
    jobs = []
    for target, topics in plan:
        sim_start = _sim_start(reader, topics)
        job = VideoJob(
            target,
            topics,
            types,
            _rate(reader, topics, options),
            options,
            t0 if sim_start is None else sim_start,
        )
        job.stats.sim_time = sim_start is not None
        jobs.append(job)
    by_topic: dict[str, list[VideoJob]] = {}
    for job in jobs:
        for topic in job.topics:
            by_topic.setdefault(topic, []).append(job)
    try:
        for record in reader.iter_raw(list(types), options.start, options.end, progress=progress):
            for job in by_topic[record.topic]:
                stamp = record.publish_time if job.stats.sim_time else record.log_time
                job.add(record.topic, stamp, record.data)
        return [job.finish() for job in jobs]
    except BaseException:
        for job in jobs:
            job.abort()
        raise
