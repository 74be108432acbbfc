"""Logs -> one LeRobot v3.0 dataset directory (``simrec convert LOG... -o DIR --format lerobot``).

Layout (what ``lerobot.datasets.LeRobotDataset(repo_id, root=DIR)`` opens)::

    DIR/data/chunk-000/file-000.parquet           one row per frame, every episode
    DIR/videos/<key>/chunk-000/file-000.mp4       per camera, the episodes one after another
    DIR/meta/info.json                            features (dtype, shape, names), fps, codec
    DIR/meta/stats.json                           min/max/mean/std/count per feature
    DIR/meta/tasks.parquet                        task text -> task_index
    DIR/meta/episodes/chunk-000/file-000.parquet  per episode: frame range, video times, stats

Each log (a file, or a directory of split files) gives its recorded episodes (``simrec.Episode``
on ``/episodes``); frames are sampled on sim time at the dataset's fps (see ``lerobot_frames``),
features come from the mapping (see ``lerobot_mapping``). Videos are H.264 (yuv420p) written by
the ffmpeg that imageio-ffmpeg provides. Everything is written in a temporary directory beside
``DIR`` and renamed into place when complete; a failure leaves nothing behind.

``export_lerobot`` is a plain function (no CLI state) so that a Ray task can call it per log.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simrec_node.info import LogSpec
from simrec_node.logs import each_recording

from .errors import ConvertError
from .frames import FrameDecoder, pad_even
from .lerobot_frames import LogFrames, read_log
from .lerobot_mapping import DONE, REWARD, Mapping, load_mapping_file, parse_map_flag
from .lerobot_meta import (
    DATA_PATH,
    EPISODES_PATH,
    TASKS_PATH,
    VIDEO_PATH,
    ImageStats,
    info_json,
    numeric_feature,
    vector_stats,
    video_feature,
    write_episodes,
    write_json,
    write_tasks,
)
from .output import atomic_directory, check_directory
from .parquet import _pyarrow  # one place says pyarrow is needed, and how to get it
from .reader import open_log

__all__ = ["LeRobotResult", "export_lerobot", "parse_map_flag"]


@dataclass
class LeRobotResult:
    """What was written: the directory, its fps, features, episodes, frames and notes."""

    root: Path
    fps: int
    features: dict[str, dict]
    episodes: int
    frames: int
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def check_lerobot_output(path: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """The dataset directory, checked before any work: only a LeRobot dataset (or an empty
    directory) is ever replaced, and only with ``overwrite``."""
    target = Path(path)
    if target.exists():
        if not target.is_dir():
            raise ConvertError(
                f"{target} exists and is not a directory: give a new directory for the dataset"
            )
        entries = sorted(p.name for p in target.iterdir())
        if entries and not (target / "meta" / "info.json").is_file():
            raise ConvertError(
                f"{target} holds other files ({', '.join(entries[:3])}), not a LeRobot dataset: "
                "give a new or empty directory"
            )
        if entries and not overwrite:
            raise ConvertError(
                f"{target} already holds a dataset: choose another directory or pass --overwrite"
            )
    check_directory(target.parent if str(target.parent) else Path("."), for_file=target)
    return target


class _VideoOut:
    """One camera's MP4: frames appended episode after episode (H.264 through imageio-ffmpeg)."""

    def __init__(self, path: Path, fps: int, codec: VideoCodec) -> None:
        self.path, self.fps, self.codec = path, fps, codec
        self.gen: Any = None
        self.size: tuple[int, int] | None = None
        self.frames = 0
        self.stats = ImageStats()

    def write(self, frame: np.ndarray) -> None:
        frame = pad_even(frame)
        if self.gen is None:
            import imageio_ffmpeg

            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.size = (frame.shape[1], frame.shape[0])
            if self.codec.encoder == "libsvtav1":
                os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1's banner bypasses ffmpeg's log level
            self.gen = imageio_ffmpeg.write_frames(
                str(self.path),
                self.size,
                fps=self.fps,
                codec=self.codec.encoder,
                pix_fmt_in="rgb24",
                pix_fmt_out="yuv420p",
                quality=None,
                output_params=["-crf", str(self.codec.crf), "-g", str(self.fps)],
                macro_block_size=1,
                ffmpeg_log_level="error",
            )
            self.gen.send(None)
        if self.frames % 10 == 0:
            self.stats.add(frame)
        self.gen.send(frame)
        self.frames += 1

    def close(self) -> None:
        gen, self.gen = self.gen, None
        if gen is not None:
            gen.close()


@dataclass(frozen=True)
class VideoCodec:
    """The videos' codec: its name in ``info.json``, the ffmpeg encoder and its CRF."""

    name: str
    encoder: str
    crf: int

    def describe(self) -> str:
        import imageio_ffmpeg

        return (
            f"{self.encoder} (imageio-ffmpeg {imageio_ffmpeg.__version__}: {imageio_ffmpeg.get_ffmpeg_exe()})"
        )


# H.264 plays and decodes everywhere; AV1 (LeRobot's own default) and HEVC where the ffmpeg has them.
CODECS = {"h264": ("libx264", 23), "av1": ("libsvtav1", 30), "hevc": ("libx265", 28)}


def video_codec(name: str = "h264", crf: int | None = None) -> VideoCodec:
    """The codec ``name`` with the encoder the ffmpeg imageio-ffmpeg runs (``IMAGEIO_FFMPEG_EXE``
    chooses another ffmpeg); ConvertError where that ffmpeg lacks it."""
    if name not in CODECS:
        raise ConvertError(f"--vcodec must be one of {', '.join(CODECS)}, not {name!r}")
    encoder, default_crf = CODECS[name]
    if name != "h264" and encoder not in _encoders():
        import imageio_ffmpeg

        raise ConvertError(
            f"--vcodec {name} needs an ffmpeg with {encoder}; {imageio_ffmpeg.get_ffmpeg_exe()} has none: "
            "set IMAGEIO_FFMPEG_EXE to one that has, or use --vcodec h264"
        )
    return VideoCodec(name, encoder, default_crf if crf is None else crf)


@functools.cache
def _encoders() -> str:
    import imageio_ffmpeg

    try:
        done = subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-encoders"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout


class _Dataset:
    """The dataset being written under ``temp``: data rows, videos, episodes."""

    def __init__(self, temp: Path, fps: int, codec: VideoCodec) -> None:
        self.temp, self.fps, self.codec = temp, fps, codec
        self.columns: dict[str, list[np.ndarray]] = {}
        self.episode_rows: list[dict[str, Any]] = []
        self.videos: dict[str, _VideoOut] = {}
        self.decoders: dict[str, FrameDecoder] = {}
        self.features: dict[str, dict] | None = None
        self.tasks: list[str] = []
        self.frames = 0
        self.pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))  # image decoding
        self.cameras = ThreadPoolExecutor(max_workers=8)  # one camera's frames into its ffmpeg each

    def add_log(self, log: LogFrames, task: str, progress: Callable[[int, int], None] | None = None) -> None:
        features = {}
        for key in log.values:
            names = log.names[key]
            features[key] = numeric_feature(log.dtypes[key], names, key in (REWARD, DONE))
        if DONE not in log.values:
            features[DONE] = numeric_feature("bool", ["done"], True)
        shape_of = {k: (v["dtype"], v["shape"]) for k, v in features.items()}
        keys = sorted([*features, *log.images])
        if self.features is not None:
            known = sorted(self.features)
            mismatch = [
                k
                for k in features
                if k in self.features
                and (self.features[k]["dtype"], self.features[k]["shape"]) != shape_of[k]
            ]
            if keys != known or mismatch:
                raise ConvertError(
                    f"{log.source} gives features {', '.join(keys)}"
                    + (f" ({mismatch[0]} of shape {shape_of[mismatch[0]][1]})" if mismatch else "")
                    + f", the logs before it {', '.join(known)}: one dataset has one set of features; "
                    "map them alike"
                )
        if task not in self.tasks:
            self.tasks.append(task)
        task_index = self.tasks.index(task)
        total, done = sum(len(e.times) for e in log.episodes), 0
        for episode in log.episodes:
            self._add_episode(log, episode, task, task_index, features)
            done += len(episode.times)
            if progress is not None:
                progress(done, total)
        if self.features is None:
            self.features = {**features, **{k: {} for k in log.images}}

    def _add_episode(self, log: LogFrames, episode, task: str, task_index: int, features: dict) -> None:
        n = len(episode.times)
        index = len(self.episode_rows)
        start = self.frames
        cols = self.columns
        cols.setdefault("index", []).append(np.arange(start, start + n, dtype=np.int64))
        cols.setdefault("episode_index", []).append(np.full(n, index, dtype=np.int64))
        cols.setdefault("frame_index", []).append(np.arange(n, dtype=np.int64))
        cols.setdefault("timestamp", []).append((np.arange(n) / self.fps).astype(np.float32))
        cols.setdefault("task_index", []).append(np.full(n, task_index, dtype=np.int64))
        row: dict[str, Any] = {
            "episode_index": index,
            "tasks": [task],
            "length": n,
            "data/chunk_index": 0,
            "data/file_index": 0,
            "dataset_from_index": start,
            "dataset_to_index": start + n,
        }
        for key in features:
            if key in log.values:
                data = log.values[key][episode.rows[key]]
                if log.envs > 1:
                    data = data[:, episode.env_index]
                data = data[:, 0].astype(bool) if key == DONE else data
                data = data[:, 0] if key == REWARD else data
            else:  # next.done from the recorded end: the episode's last frame
                data = np.zeros(n, dtype=bool)
                data[-1] = True
            cols.setdefault(key, []).append(data)
            for stat, value in vector_stats(data.reshape(n, -1)).items():
                row[f"stats/{key}/{stat}"] = value
        jobs = []
        for key, payloads in log.images.items():
            video = self.videos.get(key)
            if video is None:
                path = self.temp / VIDEO_PATH.format(video_key=key, chunk_index=0, file_index=0)
                video = self.videos[key] = _VideoOut(path, self.fps, self.codec)
            row[f"videos/{key}/from_timestamp"] = video.frames / self.fps
            # every camera at once: each ffmpeg encodes while the others are fed
            jobs.append(self.cameras.submit(self._write_frames, key, log, payloads, episode.rows[key], video))
        for job in jobs:
            job.result()
        for key in log.images:
            video = self.videos[key]
            row[f"videos/{key}/chunk_index"] = 0
            row[f"videos/{key}/file_index"] = 0
            row[f"videos/{key}/to_timestamp"] = video.frames / self.fps
        row["meta/episodes/chunk_index"] = 0
        row["meta/episodes/file_index"] = 0
        row["simrec/source"] = log.source
        row["simrec/env_index"] = episode.env_index
        row["simrec/episode_index"] = episode.log_episode_index
        row["simrec/start_time"] = float(episode.times[0]) / 1e9
        self.episode_rows.append(row)
        self.frames += n

    def _write_frames(
        self, key: str, log: LogFrames, payloads: list[bytes], rows: np.ndarray, video: _VideoOut
    ) -> None:
        decoder = self.decoders.get(key)
        if decoder is None:
            decoder = self.decoders[key] = FrameDecoder(log.image_types[key])
        wanted = list(dict.fromkeys(rows.tolist()))
        if decoder.size is None:
            decoder(payloads[wanted[0]])  # the first frame sets the camera's size
        decoded = dict(zip(wanted, self.pool.map(lambda i: decoder(payloads[i]), wanted), strict=True))
        if decoder.resized:
            width, height = decoder.size
            raise ConvertError(
                f"{log.source}: {log.mapping[key].topic} holds frames of more than one size (the first is "
                f"{width}x{height}): a LeRobot camera has one size; map each size to its own topic"
            )
        for row in rows.tolist():
            video.write(decoded[row])

    def finish(self, source: dict) -> dict[str, dict]:
        pa, pq = _pyarrow()
        self.pool.shutdown()
        list(self.cameras.map(_VideoOut.close, self.videos.values()))  # each ffmpeg finishes at once
        self.cameras.shutdown()
        features: dict[str, dict] = {}
        stats: dict[str, dict] = {}
        arrays, names = [], []
        for key in ["index", "episode_index", "frame_index", "timestamp", "task_index", *self.features]:
            if key in self.videos:
                continue
            data = np.concatenate(self.columns[key])
            arrays.append(_column(pa, data))
            names.append(key)
            if key in self.features:
                features[key] = self.features[key]
                stats[key] = vector_stats(data.reshape(len(data), -1))
        for key, video in self.videos.items():
            width, height = video.size  # type: ignore[misc]
            features[key] = video_feature(height, width, self.fps, self.codec.name, self.codec.describe())
            stats[key] = video.stats.result(video.frames)
        data_path = self.temp / DATA_PATH.format(chunk_index=0, file_index=0)
        data_path.parent.mkdir(parents=True)
        pq.write_table(pa.table(arrays, names=names), data_path)
        write_episodes(
            pa, pq, self.temp / EPISODES_PATH.format(chunk_index=0, file_index=0), self.episode_rows
        )
        write_tasks(pa, pq, self.temp / TASKS_PATH, self.tasks)
        for key in ("index", "episode_index", "frame_index", "timestamp", "task_index"):
            stats[key] = vector_stats(np.concatenate(self.columns[key]).reshape(-1, 1))
        write_json(self.temp / "meta" / "stats.json", stats)
        info = info_json(
            features,
            self.fps,
            len(self.episode_rows),
            self.frames,
            len(self.tasks),
            bool(self.videos),
            source,
        )
        write_json(self.temp / "meta" / "info.json", info)
        return features

    def abort(self) -> None:
        self.cameras.shutdown(cancel_futures=True)
        self.pool.shutdown(cancel_futures=True)
        for video in self.videos.values():
            with contextlib.suppress(Exception):
                video.close()


def _column(pa: Any, data: np.ndarray) -> Any:
    """A [frames] or [frames, D] array as a pyarrow column (fixed-size lists for vectors)."""
    data = np.ascontiguousarray(data)
    if data.ndim == 2 and data.shape[1] == 1:  # shape [1]: LeRobot reads a plain value
        data = data[:, 0]
    if data.ndim == 1:
        return pa.array(data)
    return pa.FixedSizeListArray.from_arrays(pa.array(data.reshape(-1)), data.shape[1])


def _explicit(mapping: Mapping | str | os.PathLike[str] | None) -> tuple[Mapping, dict[str, Any]]:
    if mapping is None:
        return {}, {}
    if isinstance(mapping, str | os.PathLike):
        return load_mapping_file(mapping)
    return dict(mapping), {}


def export_lerobot(
    logs: Iterable[LogSpec] | LogSpec,
    out_dir: str | os.PathLike[str],
    mapping: Mapping | str | os.PathLike[str] | None = None,
    *,
    fps: float | None = None,
    task: str | None = None,
    overwrite: bool = False,
    vcodec: str = "h264",
    crf: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LeRobotResult:
    """Write the episodes of ``logs`` (each a file, a split directory, or a list of files read as
    one log; a directory of separate recordings gives each of its files as a log, see
    ``simrec_node.logs.recordings``) as one LeRobot v3.0 dataset in ``out_dir``.

    Args:
        mapping: explicit features over the default mapping: ``{key: FeatureSource | None}``, or
            the path of a YAML mapping file (which may also give ``fps`` and ``task``).
        fps: frames per second (default: from the first log's camera / state rate).
        task: the task text of every frame (default: each log's name).
        vcodec: ``h264`` (libx264), or ``av1`` (libsvtav1) / ``hevc`` (libx265) where the ffmpeg
            has them.
        crf: the encoder's CRF (lower is better and larger; default 23 / 30 / 28).
        progress: called with (frames written, frames of the log) as each log's episodes go out.

    Raises:
        ConvertError: a missing topic or field, a camera of mixed sizes, a log with no
            episodes, an output directory that holds something else (nothing is left behind).
    """
    target = check_lerobot_output(out_dir, overwrite=overwrite)
    codec = video_codec(vcodec, crf)
    explicit, settings = _explicit(mapping)
    fps = fps if fps is not None else settings.get("fps")
    task = task if task is not None else settings.get("task")
    specs = each_recording(logs)  # a folder of runs: each run its own log
    if not specs:
        raise ConvertError("no log to export")
    dataset: _Dataset | None = None
    notes: list[str] = []
    problems: list[str] = []
    sources = []
    with atomic_directory(target) as temp:
        try:
            for spec in specs:
                with open_log(spec) as reader:
                    frames = read_log(reader, explicit, fps if dataset is None else dataset.fps)
                    if dataset is None:
                        dataset = _Dataset(temp, frames.fps, codec)
                    dataset.add_log(frames, task if task is not None else Path(frames.source).stem, progress)
                    notes += frames.notes
                    problems += reader.problems
                    mapping_text = {k: s.describe() for k, s in frames.mapping.items()}
                    sources.append({"log": frames.source, "mapping": mapping_text})
            assert dataset is not None
            if not dataset.episode_rows:
                why = notes[0] if notes else "no episode ended"
                raise ConvertError(
                    f"nothing to write: {why}" + (f" (and {len(notes) - 1} more)" if len(notes) > 1 else "")
                )
            features = dataset.finish({"logs": sources})
        except BaseException:
            if dataset is not None:
                dataset.abort()  # ffmpeg stops before its directory goes
            raise
    return LeRobotResult(
        target, dataset.fps, features, len(dataset.episode_rows), dataset.frames, notes, problems
    )
