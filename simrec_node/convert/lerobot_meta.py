"""The LeRobot v3.0 metadata files: ``meta/info.json``, ``meta/stats.json``,
``meta/tasks.parquet`` and ``meta/episodes/chunk-000/file-000.parquet``.

What LeRobot's loader (``LeRobotDataset(repo_id, root=DIR)``) reads from them: ``info.json``'s
``features`` (dtype, shape, names; a video's ``info`` with its codec), ``fps`` and the path
templates; per episode its frame range in the data files (``dataset_from_index`` /
``dataset_to_index``) and, per camera, its file and start time in the video
(``videos/<key>/from_timestamp``); ``tasks.parquet`` indexed by the task's text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

CODEBASE_VERSION = "v3.0"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"
EPISODES_PATH = "meta/episodes/" + CHUNK_FILE + ".parquet"
TASKS_PATH = "meta/tasks.parquet"

DEFAULT_FEATURES = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}


def numeric_feature(dtype: str, names: list[str], scalar: bool) -> dict[str, Any]:
    return {"dtype": dtype, "shape": [1] if scalar else [len(names)], "names": names}


def video_feature(height: int, width: int, fps: int, codec: str, encoder: str) -> dict[str, Any]:
    return {
        "dtype": "video",
        "shape": [height, width, 3],
        "names": ["height", "width", "channels"],
        "info": {
            "video.height": height,
            "video.width": width,
            "video.codec": codec,
            "video.pix_fmt": "yuv420p",
            "video.is_depth_map": False,
            "video.fps": fps,
            "video.channels": 3,
            "has_audio": False,
            "video.encoder": encoder,
        },
    }


def info_json(
    features: dict[str, dict], fps: int, episodes: int, frames: int, tasks: int, has_video: bool, source: dict
) -> dict[str, Any]:
    return {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": None,
        "total_episodes": episodes,
        "total_frames": frames,
        "total_tasks": tasks,
        "chunks_size": 1000,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 200,
        "fps": fps,
        "splits": {"train": f"0:{episodes}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if has_video else None,
        "features": {**features, **DEFAULT_FEATURES},
        "simrec": source,
    }


def vector_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """min/max/mean/std/count of ``values`` [frames, ...] over frames (as LeRobot keeps them)."""
    data = values.astype(np.float64)
    return {
        "min": data.min(axis=0),
        "max": data.max(axis=0),
        "mean": data.mean(axis=0),
        "std": data.std(axis=0),
        "count": np.array([len(data)]),
    }


class ImageStats:
    """Per-channel statistics of a camera's frames in [0, 1], shaped [3, 1, 1] as LeRobot's."""

    def __init__(self) -> None:
        self.count = 0
        self.sum = np.zeros(3)
        self.sq = np.zeros(3)
        self.min = np.full(3, np.inf)
        self.max = np.full(3, -np.inf)

    def add(self, frame: np.ndarray) -> None:
        pixels = frame[::4, ::4].reshape(-1, 3).astype(np.float64) / 255.0  # a subsample is plenty
        self.count += 1
        self.sum += pixels.mean(axis=0)
        self.sq += (pixels**2).mean(axis=0)
        self.min = np.minimum(self.min, pixels.min(axis=0))
        self.max = np.maximum(self.max, pixels.max(axis=0))

    def result(self, frames: int) -> dict[str, np.ndarray]:
        mean = self.sum / max(self.count, 1)
        std = np.sqrt(np.maximum(self.sq / max(self.count, 1) - mean**2, 0.0))
        shape = (3, 1, 1)
        return {
            "min": self.min.reshape(shape),
            "max": self.max.reshape(shape),
            "mean": mean.reshape(shape),
            "std": std.reshape(shape),
            "count": np.array([frames]),
        }


def write_json(path: Path, data: Any) -> None:
    def plain(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plain(data), indent=2) + "\n")


def write_tasks(pa: Any, pq: Any, path: Path, tasks: list[str]) -> None:
    """``tasks.parquet`` as pandas writes a frame indexed by ``task`` (LeRobot reads it with
    ``pandas.read_parquet`` and looks a task's text up as the row's index), without pandas."""
    table = pa.table(
        {"task_index": pa.array(range(len(tasks)), pa.int64()), "task": pa.array(tasks, pa.string())}
    )
    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [
            {
                "name": None,
                "field_name": None,
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": None,
            }
        ],
        "columns": [
            {
                "name": "task_index",
                "field_name": "task_index",
                "pandas_type": "int64",
                "numpy_type": "int64",
                "metadata": None,
            },
            {
                "name": "task",
                "field_name": "task",
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": None,
            },
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.0",
    }
    table = table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def write_episodes(pa: Any, pq: Any, path: Path, rows: list[dict[str, Any]]) -> None:
    """The episodes table: one row per episode (plain values, lists for stats)."""
    columns: dict[str, list] = {}
    for row in rows:
        for key, value in row.items():
            columns.setdefault(key, []).append(value.tolist() if isinstance(value, np.ndarray) else value)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
