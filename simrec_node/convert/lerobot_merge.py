"""Several LeRobot datasets written by ``export_lerobot`` (one per log, e.g. by parallel tasks)
into one: ``merge_lerobot(parts, out_dir)``.

The data and episodes tables are concatenated with their indices moved on (``index``,
``episode_index``, ``dataset_from_index`` / ``dataset_to_index``, each camera's
``from_timestamp`` / ``to_timestamp``), task numbers remapped onto one task table, statistics
combined (counts, means and variances pooled; min and max), and each camera's videos joined by
ffmpeg's concat demuxer without re-encoding. The parts must agree on fps and features (export
them with one ``fps``). Written under a temporary directory and renamed, as ``export_lerobot``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConvertError
from .lerobot import LeRobotResult, check_lerobot_output
from .lerobot_meta import (
    DATA_PATH,
    EPISODES_PATH,
    TASKS_PATH,
    VIDEO_PATH,
    vector_stats,
    write_json,
    write_tasks,
)
from .output import atomic_directory
from .parquet import _pyarrow

__all__ = ["merge_lerobot"]


def _info(part: Path) -> dict[str, Any]:
    try:
        return json.loads((part / "meta" / "info.json").read_text())
    except (OSError, ValueError) as exc:
        raise ConvertError(f"{part} is not a LeRobot dataset written by simrec: {exc}") from None


def _comparable(features: dict[str, dict]) -> dict[str, Any]:
    """Features as far as two parts must agree (not the encoder's path and version)."""
    out = {}
    for key, feature in features.items():
        info = {k: v for k, v in feature.get("info", {}).items() if k != "video.encoder"}
        out[key] = {**feature, "info": info}
    return out


def _pooled(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One feature's statistics from the parts' (count-weighted mean and variance)."""
    counts = np.array([float(np.asarray(p["count"]).reshape(-1)[0]) for p in parts])
    total = counts.sum()
    means = [np.asarray(p["mean"], dtype=np.float64) for p in parts]
    mean = sum(c * m for c, m in zip(counts, means, strict=True)) / total
    second = sum(
        c * (np.asarray(p["std"], dtype=np.float64) ** 2 + m**2)
        for c, m, p in zip(counts, means, parts, strict=True)
    )
    std = np.sqrt(np.maximum(second / total - mean**2, 0.0))
    return {
        "min": np.minimum.reduce([np.asarray(p["min"], dtype=np.float64) for p in parts]),
        "max": np.maximum.reduce([np.asarray(p["max"], dtype=np.float64) for p in parts]),
        "mean": mean,
        "std": std,
        "count": np.array([int(total)]),
    }


def _concat_videos(files: list[Path], target: Path) -> None:
    import imageio_ffmpeg

    target.parent.mkdir(parents=True, exist_ok=True)
    listing = target.with_suffix(".txt")
    listing.write_text("".join(f"file '{f.resolve().as_posix()}'\n" for f in files))
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "concat"]
    command += ["-safe", "0", "-i", str(listing), "-c", "copy", "-movflags", "+faststart", str(target)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    listing.unlink()
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["ffmpeg failed"])[-1]
        raise ConvertError(f"joining the videos into {target.name} failed: {reason}")


def merge_lerobot(
    parts: Iterable[str | os.PathLike[str]], out_dir: str | os.PathLike[str], *, overwrite: bool = False
) -> LeRobotResult:
    """Join LeRobot datasets that ``export_lerobot`` wrote (in the order given) into ``out_dir``.

    Raises:
        ConvertError: a part that is no such dataset, parts of different fps or features, an
            output directory that holds something else.
    """
    pa, pq = _pyarrow()
    paths = [Path(p) for p in parts]
    if not paths:
        raise ConvertError("no dataset to merge")
    target = check_lerobot_output(out_dir, overwrite=overwrite)
    if any(p.resolve() == target.resolve() for p in paths):
        raise ConvertError(f"{target} is one of the datasets to merge: write the merge elsewhere")
    infos = [_info(p) for p in paths]
    first = infos[0]
    for path, info in zip(paths[1:], infos[1:], strict=True):
        if info["fps"] != first["fps"] or _comparable(info["features"]) != _comparable(first["features"]):
            raise ConvertError(
                f"{path} has other features or fps than {paths[0]} ({info['fps']} and {first['fps']} fps): "
                "export every log with one --fps and one mapping"
            )
    fps = int(first["fps"])
    videos = [k for k, f in first["features"].items() if f["dtype"] == "video"]
    with atomic_directory(target) as temp:
        tasks: list[str] = []
        data_tables, episode_tables, stats_parts = [], [], []
        frames = episodes = 0
        for path, info in zip(paths, infos, strict=True):
            part_tasks = pq.read_table(path / TASKS_PATH)
            order = np.argsort(part_tasks.column("task_index").to_numpy())
            remap = []
            for task in np.asarray(part_tasks.column("task").to_pylist(), dtype=object)[order]:
                if task not in tasks:
                    tasks.append(task)
                remap.append(tasks.index(task))
            data = pa.concat_tables(pq.read_table(f) for f in sorted((path / "data").glob("*/*.parquet")))
            moved = {
                "index": pa.array(data.column("index").to_numpy() + frames),
                "episode_index": pa.array(data.column("episode_index").to_numpy() + episodes),
                "task_index": pa.array(
                    np.asarray(remap, dtype=np.int64)[data.column("task_index").to_numpy()]
                ),
            }
            for name, column in moved.items():
                data = data.set_column(data.schema.get_field_index(name), name, column)
            data_tables.append(data)
            table = pa.concat_tables(
                pq.read_table(f) for f in sorted((path / "meta/episodes").glob("*/*.parquet"))
            )
            shifts = {"episode_index": episodes, "dataset_from_index": frames, "dataset_to_index": frames}
            for key in videos:
                shifts[f"videos/{key}/from_timestamp"] = frames / fps
                shifts[f"videos/{key}/to_timestamp"] = frames / fps
            for name, shift in shifts.items():
                column = table.column(name).to_numpy() + shift
                table = table.set_column(table.schema.get_field_index(name), name, pa.array(column))
            episode_tables.append(table)
            stats_parts.append(json.loads((path / "meta" / "stats.json").read_text()))
            frames += int(info["total_frames"])
            episodes += int(info["total_episodes"])
        data_path = temp / DATA_PATH.format(chunk_index=0, file_index=0)
        data_path.parent.mkdir(parents=True)
        pq.write_table(pa.concat_tables(data_tables), data_path)
        episodes_path = temp / EPISODES_PATH.format(chunk_index=0, file_index=0)
        episodes_path.parent.mkdir(parents=True)
        pq.write_table(pa.concat_tables(episode_tables, promote_options="default"), episodes_path)
        write_tasks(pa, pq, temp / TASKS_PATH, tasks)
        for key in videos:
            files = [p / VIDEO_PATH.format(video_key=key, chunk_index=0, file_index=0) for p in paths]
            _concat_videos(files, temp / VIDEO_PATH.format(video_key=key, chunk_index=0, file_index=0))
        stats = {key: _pooled([s[key] for s in stats_parts]) for key in stats_parts[0]}
        merged = pa.concat_tables(data_tables)
        for key in ("index", "episode_index", "frame_index", "timestamp", "task_index"):
            stats[key] = vector_stats(merged.column(key).to_numpy().reshape(-1, 1))
        write_json(temp / "meta" / "stats.json", stats)
        info = {
            **first,
            "total_episodes": episodes,
            "total_frames": frames,
            "total_tasks": len(tasks),
            "splits": {"train": f"0:{episodes}"},
            "simrec": {"logs": [log for i in infos for log in i.get("simrec", {}).get("logs", [])]},
        }
        write_json(temp / "meta" / "info.json", info)
    return LeRobotResult(target, fps, first["features"], episodes, frames)
