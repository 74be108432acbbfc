"""Many logs as datasets for distributed engines: ``read_ray`` (a Ray Dataset of decoded columns,
rows per message, episode or file), ``convert_many`` (what ``simrec convert --ray`` runs: one Ray
task per log) and ``export_lerobot_ray`` (many logs into one LeRobot dataset, a task per log).
Ray is an optional extra, imported on first use, never by this package.
"""

from __future__ import annotations

from .errors import DatasetError
from .ray_convert import CONVERTERS, ConvertedLog, convert_many, output_for
from .ray_lerobot import export_lerobot_ray
from .ray_local import ray_session, start_ray
from .ray_read import read_ray
from .rows import ROWS

__all__ = [
    "CONVERTERS",
    "ROWS",
    "ConvertedLog",
    "DatasetError",
    "convert_many",
    "export_lerobot_ray",
    "output_for",
    "ray_session",
    "read_ray",
    "start_ray",
]
