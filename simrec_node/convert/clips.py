"""MCAP -> one MP4 per recorded clip (``simrec convert LOG -o clips/ --clips``).

The Gymnasium wrappers write a ``simrec.clip`` metadata record for every clip they record: its
RecordVideo file name, camera topic, frame count, first frame on the topic and frame rate. Each
clip becomes ``<dir>/<name>.mp4`` (``rl-video-episode-8.mp4``), every recorded frame once at the
recorded rate, as RecordVideo would have written it. All clips are read in one pass over the log;
each file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from .errors import ConvertError
from .frames import FrameDecoder, pad_even
from .mp4 import ClipWriter
from .output import check_output, create_directory
from .reader import IMAGE_TYPES, LogReader

__all__ = ["ClipResult", "RecordedClip", "convert_clips", "recorded_clips"]


@dataclass(frozen=True)
class RecordedClip:
    """One ``simrec.clip`` record: where its frames are in the log and how to play them."""

    name: str
    topic: str
    first_frame: int
    frames: int
    fps: float


@dataclass
class ClipResult:
    """One clip written (or not: ``path`` None when the log holds none of its frames)."""

    clip: RecordedClip
    path: Path | None
    fps: float
    frames: int = 0
    size: tuple[int, int] | None = None

    def describe(self) -> str:
        where = str(self.path) if self.path else f"{self.clip.name} (no file: no frame in the log)"
        size = f" {self.size[0]}x{self.size[1]}" if self.size else ""
        short = (
            f" ({self.clip.frames - self.frames} of its frames missing from the log)" if self.short else ""
        )
        return f"{where}: {self.frames} frames{size} at {self.fps:g} fps from {self.clip.topic}{short}"

    @property
    def short(self) -> bool:
        return self.frames < self.clip.frames


def recorded_clips(reader: LogReader, topics: list[str] | None = None) -> list[RecordedClip]:
    """The clips the log records (on ``topics`` when given), in recording order."""
    clips: list[RecordedClip] = []
    taken: dict[str, int] = {}  # frames of each topic given to clips so far (records without first_frame)
    for record in reader.summary.clips:
        topic = record.get("topic", "")
        try:
            frames = int(record["frames"])
            first = int(record.get("first_frame", taken.get(topic, 0)))
            fps = float(record.get("fps") or 30)
        except (KeyError, ValueError):
            raise ConvertError(
                f"{reader.path}: a simrec.clip record is malformed ({dict(record)}); "
                "convert its camera topic instead: -o DIR/"
            ) from None
        taken[topic] = first + frames
        if topics is not None and topic not in topics:
            continue
        clips.append(RecordedClip(record.get("name") or f"clip-{len(clips)}", topic, first, frames, fps))
    return clips


def _targets(directory: Path, clips: list[RecordedClip], overwrite: bool) -> list[Path]:
    """``<directory>/<name>.mp4`` per clip (a repeated name gets ``_1``, ``_2``...), checked."""
    targets: list[Path] = []
    used: set[Path] = set()
    for clip in clips:
        relative = PurePosixPath(clip.name)
        if relative.is_absolute() or ".." in relative.parts or not clip.name.strip():
            raise ConvertError(
                f"clip name {clip.name!r} would leave {directory}: rename the clip's name_prefix"
            )
        base = directory / f"{clip.name}.mp4"
        target, n = base, 0
        while target in used:
            n += 1
            target = base.with_name(f"{base.stem}_{n}.mp4")
        used.add(target)
        create_directory(target.parent)
        targets.append(check_output(target, overwrite=overwrite))
    return targets


def convert_clips(
    reader: LogReader,
    output: str | os.PathLike[str],
    *,
    topics: list[str] | None = None,
    fps: float | None = None,
    quality: float = 5.0,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[ClipResult]:
    """Write each recorded clip to ``output/<name>.mp4`` at its recorded rate (or ``fps``).

    Raises ``ConvertError`` when the log records no clip, or a file exists (without ``overwrite``).
    """
    if fps is not None and not fps > 0:
        raise ConvertError(f"--fps must be positive, not {fps}")
    selected = reader.resolve_topics(topics) if topics else None
    clips = recorded_clips(reader, selected)
    if not clips:
        on = f" on {', '.join(selected)}" if selected else ""
        raise ConvertError(
            f"{reader.path} records no clips{on} (simrec.clip records, written by RecordRollout and "
            "RecordVectorRollout when they record frames); for its camera topics use -o DIR/ without --clips"
        )
    for clip in clips:
        if reader.topics.get(clip.topic) is None or reader.topics[clip.topic].type_name not in IMAGE_TYPES:
            raise ConvertError(
                f"clip {clip.name} names {clip.topic!r}, which is not an image topic of the log"
            )
    directory = Path(output)
    create_directory(directory)
    targets = _targets(directory, clips, overwrite)
    results = [ClipResult(clip, None, fps or clip.fps) for clip in clips]
    writers: dict[int, ClipWriter] = {}
    by_topic: dict[str, list[int]] = {}
    for i, clip in enumerate(clips):
        by_topic.setdefault(clip.topic, []).append(i)
    decoders = {t: FrameDecoder(reader.topics[t].type_name) for t in by_topic}
    seen = dict.fromkeys(by_topic, 0)
    try:
        for record in reader.iter_raw(list(by_topic), progress=progress):
            topic = record.topic
            index, seen[topic] = seen[topic], seen[topic] + 1
            for i in by_topic[topic]:
                clip = clips[i]
                if not clip.first_frame <= index < clip.first_frame + clip.frames:
                    continue
                try:
                    frame = pad_even(decoders[topic](record.data))
                except Exception:  # bytes that are no image: the clip is short of that frame
                    continue
                if i not in writers:
                    writers[i] = ClipWriter(targets[i], results[i].fps, None, quality)
                    results[i].size = (frame.shape[1], frame.shape[0])
                writers[i].write(np.ascontiguousarray(frame))
                results[i].frames += 1
                if results[i].frames == clip.frames:
                    writers.pop(i).close()
                    results[i].path = targets[i]
        for i, writer in writers.items():  # clips the log holds only part of
            writer.close()
            results[i].path = targets[i]
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    return results
