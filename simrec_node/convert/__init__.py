"""Recorded logs out to ML formats: MCAP -> NPZ arrays, Parquet tables or MP4 video; Python
iterators and torch datasets. ``open_log(path)`` gives a ``LogReader``; ``convert_to_npz`` /
``convert_to_parquet`` / ``convert_to_mp4`` do what ``simrec convert`` does.
The torch datasets load torch only when first used.
"""

from __future__ import annotations

from typing import Any

from .clips import convert_clips
from .collect import collect
from .errors import ConvertError
from .lerobot import LeRobotResult, export_lerobot
from .lerobot_merge import merge_lerobot
from .mp4 import Mp4Options, VideoStats, convert_to_mp4
from .npz import META_KEY, NpzOptions, NpzResult, build_arrays, convert_to_npz
from .parquet import ParquetOptions, ParquetResult, convert_to_parquet
from .reader import LogReader, RawRecord, TopicInfo, open_log

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

_TORCH_NAMES = {
    "LogIterableDataset": "dataset",
    "StateBatchDataset": "dataset",
    "EpisodeDataset": "episode_dataset",
    "EpisodeStream": "episode_dataset",
}


def __getattr__(name: str) -> Any:
    if name in _TORCH_NAMES:
        import importlib

        return getattr(importlib.import_module(f".{_TORCH_NAMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
