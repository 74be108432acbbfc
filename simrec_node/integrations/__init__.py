"""Record from inside a simulation: the in-process ``Recorder``, episodes, Gymnasium wrappers
(single, vector, and Isaac Lab-style batched torch envs).

The Gymnasium wrappers load on first use, so this package works without gymnasium installed.
"""

from __future__ import annotations

from typing import Any

from .episodes import EPISODE_TOPIC, GYMNASIUM_NAMES
from .errors import (
    IntegrationError,
    InvalidTimeError,
    MissingClockError,
    RecorderClosedError,
    RecorderNotClosedWarning,
    RecordingCallError,
    ServeUnavailableError,
    TopicTypeError,
    UnsupportedValueError,
)
from .recorder import Recorder
from .triggers import VideoTrigger, capped_cubic_video_schedule

__all__ = [
    "EPISODE_TOPIC",
    "GYMNASIUM_NAMES",
    "IntegrationError",
    "InvalidTimeError",
    "MissingClockError",
    "RecordBatchedRollout",
    "RecordRollout",
    "RecordVectorRollout",
    "Recorder",
    "RecorderClosedError",
    "RecorderNotClosedWarning",
    "RecordingCallError",
    "ServeUnavailableError",
    "TopicTypeError",
    "UnsupportedValueError",
    "VideoTrigger",
    "capped_cubic_video_schedule",
]

_GYM_NAMES = {"RecordRollout": "gym_wrappers", "RecordVectorRollout": "gym_wrappers"}
_GYM_NAMES["RecordBatchedRollout"] = "batched"


def __getattr__(name: str) -> Any:
    if name in _GYM_NAMES:
        import importlib

        return getattr(importlib.import_module(f".{_GYM_NAMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
