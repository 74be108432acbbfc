"""Recorded logs out to ML formats: MCAP -> NPZ arrays, Parquet tables or MP4 video; Python
iterators and torch datasets. ``open_log(path)`` gives a ``LogReader``; ``convert_to_npz`` /
``convert_to_parquet`` / ``convert_to_mp4`` do what ``simrec convert`` does.

The reader and ``collect`` load with the package; the writers and datasets load from their
modules on first use, so reading a log into numpy does not pay for the video, Parquet and
LeRobot writers' imports (~35 ms of a 100,000-message read back), and the torch datasets load
torch only when first used. (``collect`` shares its module's name, so it cannot be lazy: once
the module is imported, the package attribute would be the module.)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .collect import collect
from .errors import ConvertError
from .reader import LogReader, RawRecord, TopicInfo, open_log

if TYPE_CHECKING:
    from .clips import convert_clips
    from .dataset import LogIterableDataset, StateBatchDataset
    from .episode_dataset import EpisodeDataset, EpisodeStream
    from .lerobot import LeRobotResult, export_lerobot
    from .lerobot_merge import merge_lerobot
    from .mp4 import Mp4Options, VideoStats, convert_to_mp4
    from .npz import META_KEY, NpzOptions, NpzResult, build_arrays, convert_to_npz
    from .parquet import ParquetOptions, ParquetResult, convert_to_parquet

_HOMES = {
    "convert_clips": "clips",
    "LogIterableDataset": "dataset",
    "StateBatchDataset": "dataset",
    "EpisodeDataset": "episode_dataset",
    "EpisodeStream": "episode_dataset",
    "LeRobotResult": "lerobot",
    "export_lerobot": "lerobot",
    "merge_lerobot": "lerobot_merge",
    "Mp4Options": "mp4",
    "VideoStats": "mp4",
    "convert_to_mp4": "mp4",
    "META_KEY": "npz",
    "NpzOptions": "npz",
    "NpzResult": "npz",
    "build_arrays": "npz",
    "convert_to_npz": "npz",
    "ParquetOptions": "parquet",
    "ParquetResult": "parquet",
    "convert_to_parquet": "parquet",
}

__all__ = [
    "META_KEY",
    "ConvertError",
    "EpisodeDataset",
    "EpisodeStream",
    "LeRobotResult",
    "LogIterableDataset",
    "LogReader",
    "Mp4Options",
    "NpzOptions",
    "NpzResult",
    "ParquetOptions",
    "ParquetResult",
    "RawRecord",
    "StateBatchDataset",
    "TopicInfo",
    "VideoStats",
    "build_arrays",
    "collect",
    "convert_clips",
    "convert_to_mp4",
    "convert_to_npz",
    "convert_to_parquet",
    "export_lerobot",
    "merge_lerobot",
    "open_log",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # once: later lookups do not come here
    return value
