"""MCAP -> NPZ: every numeric field of the selected topics as an array with time first.

Keys are ``<topic>/<field path>`` (see ``fields`` for the paths) plus ``<topic>/log_time``
and ``<topic>/publish_time`` (int64 ns). With alignment every array of every topic has one
row per entry of the top-level ``time`` array, and each topic gets ``<topic>/valid``. With a
done field, ``<topic>/episode_index`` numbers episodes; ``split_episodes`` (one env) writes
the arrays of episode ``k`` under ``episode_<k>/``. ``__meta__`` is a JSON string saying
how the file was made and what was skipped, and why.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from simrec_node.version import __version__

from . import npzfile
from .align import MODES, align_topic, time_base
from .collect import collect
from .episodes import episode_ends, episode_index, prefix, split_rows, split_times
from .errors import ConvertError
from .output import atomic_output, check_output
from .reader import LogReader

META_KEY = "__meta__"


@dataclass(frozen=True)
class NpzOptions:
    """What to convert and how (the ``simrec convert ... -o X.npz`` options)."""

    topics: tuple[str, ...] | None = None
    start: float | None = None
    end: float | None = None
    align: str | None = None
    hz: float | None = None
    interp: str = "hold"
    split_episodes: bool = False
    allow_object: bool = False
    compress: bool = False


@dataclass
class NpzResult:
    """The arrays (key -> array) and the metadata stored beside them."""

    arrays: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)

    @property
    def skipped(self) -> dict[str, str]:
        return self.meta["skipped"]

    @property
    def problems(self) -> list[str]:
        return self.meta["problems"]


def _check(reader: LogReader, options: NpzOptions) -> tuple[list[str], str | None]:
    if options.align is not None and options.hz is not None:
        raise ConvertError("--align and --hz are alternatives: pass one of them")
    if options.hz is not None and not options.hz > 0:
        raise ConvertError(f"--hz must be a positive rate, not {options.hz}")
    if options.interp not in MODES:
        raise ConvertError(f"--interp must be one of {', '.join(MODES)}, not {options.interp!r}")
    topics = reader.resolve_topics(options.topics) if options.topics else reader.numeric_topics
    images = [t for t in topics if t in reader.image_topics]
    if images and options.topics:
        raise ConvertError(
            f"{', '.join(images)} holds images: convert it to video with -o out.mp4 "
            f"(numeric topics: {', '.join(reader.numeric_topics) or 'none'})"
        )
    topics = [t for t in topics if t not in images]
    if not topics:
        raise ConvertError(f"{reader.path} has no numeric topics to convert; {reader.describe_topics()}")
    align = None
    if options.align is not None:
        (align,) = reader.resolve_topics([options.align])
        if align not in topics:
            topics.append(align)
    return topics, align


def _nothing_converted(reader: LogReader, topics: list[str], options: NpzOptions) -> str:
    """Why a pass over the log gave no message at all: undecodable channels, or an empty window."""
    if reader.undecodable:
        reasons = "; ".join(f"{topic}: {why}" for topic, why in reader.undecodable.items())
        return f"nothing converted from {reader.path}: {reasons} (simrec records protobuf)"
    window = "" if options.start is None and options.end is None else " between --start and --end"
    return f"nothing converted: {reader.path} has no message on {', '.join(topics)}{window}"


def build_arrays(
    reader: LogReader, options: NpzOptions, progress: Callable[[int, int], None] | None = None
) -> NpzResult:
    """Read the log once and return the NPZ's arrays and metadata (nothing is written)."""
    topics, align = _check(reader, options)
    collection = collect(
        reader,
        topics,
        start=options.start,
        end=options.end,
        allow_object=options.allow_object,
        progress=progress,
    )
    if not collection.messages:
        raise ConvertError(_nothing_converted(reader, topics, options))
    per_topic: dict[str, dict[str, np.ndarray]] = {}
    skipped: dict[str, str] = {}
    notes: dict[str, str] = {}
    for topic, table in collection.tables.items():
        arrays, topic_skipped, topic_notes = table.finish()
        per_topic[topic] = arrays
        skipped.update({f"{topic}/{k}": v for k, v in topic_skipped.items()})
        notes.update({f"{topic}/{k}": v for k, v in topic_notes.items()})
    meta: dict = {
        "simrec_version": __version__,
        "source": str(reader.path),
        "options": asdict(options),
        "time": "log_time: when the recorder received each message (int64 ns since the epoch)",
        "topics": {
            t: {"type": reader.topics[t].type_name, "messages": tables_rows(a)} for t, a in per_topic.items()
        },
        "messages": collection.messages,
        "skipped": skipped,
        "notes": notes,
        "problems": collection.problems,
        "align": None,
        "episodes": None,
    }
    common: dict[str, np.ndarray] = {}
    base = None
    if align is not None or options.hz is not None:
        base = time_base(per_topic, align, options.hz)
        per_topic = {t: align_topic(a, base, options.interp) for t, a in per_topic.items()}
        common["time"] = base
        meta["align"] = {
            "base": f"topic {align}" if align else f"{options.hz} Hz grid",
            "mode": options.interp,
            "rows": len(base),
        }
    meta["episodes"] = _episodes(per_topic, base, options.split_episodes)
    return NpzResult(_flat(per_topic, common, meta["episodes"]), meta)


def tables_rows(arrays: dict[str, np.ndarray]) -> int:
    return len(arrays["log_time"])


def _episodes(
    per_topic: dict[str, dict[str, np.ndarray]], base: np.ndarray | None, split: bool
) -> dict | None:
    """Add ``episode_index`` to topics with a done field; plan the split when asked."""
    source = None
    for topic, arrays in per_topic.items():
        ends = episode_ends(arrays)
        if ends is not None:
            arrays["episode_index"] = episode_index(ends)
            source = source or (topic, ends)
    if source is None:
        if split:
            raise ConvertError(
                "--split-episodes needs a done/terminated field (e.g. StateBatch tensor 'done'); "
                f"none of {', '.join(per_topic)} has one"
            )
        return None
    topic, ends = source
    info: dict = {"topic": topic, "envs": 1 if ends.ndim == 1 else int(np.prod(ends.shape[1:]))}
    info["ended"] = int(ends.sum())
    if split and info["envs"] > 1:
        info["split"] = False
        info["note"] = (
            f"{topic} has {info['envs']} envs: wrote the [T, N] done mask and episode_index "
            "instead of one group per episode"
        )
    elif split:
        times = base if base is not None else per_topic[topic]["log_time"]
        info["split"] = True
        info["starts_ns"] = split_times(ends, times).tolist()
    return info


def _flat(
    per_topic: dict[str, dict[str, np.ndarray]], common: dict[str, np.ndarray], episodes: dict | None
) -> dict[str, np.ndarray]:
    flat = {f"{topic}/{k}": v for topic, arrays in per_topic.items() for k, v in arrays.items()}
    flat.update(common)
    if not (episodes and episodes.get("split")):
        return flat
    starts = np.asarray(episodes["starts_ns"], dtype=np.int64)
    out: dict[str, np.ndarray] = {}
    groups = [(f"{t}/", a, a["log_time"]) for t, a in per_topic.items()]
    if "time" in common:  # aligned: every topic follows the common base
        groups = [(f"{t}/", a, common["time"]) for t, a in per_topic.items()] + [("", common, common["time"])]
    for key_prefix, arrays, times in groups:
        for index, rows in enumerate(split_rows(times, starts)):
            group = prefix(index) + ("/" if not key_prefix.startswith("/") else "")
            for k, v in arrays.items():
                out[group + key_prefix + k] = v[rows]
    episodes["count"] = len(starts) + 1
    return out


def write_npz(
    path: str | os.PathLike[str], result: NpzResult, *, compress: bool = False, overwrite: bool = False
) -> Path:
    """Write ``result`` to ``path`` atomically (temporary name, renamed when complete)."""
    target = check_output(path, overwrite=overwrite)
    arrays = {**result.arrays, META_KEY: np.array(json.dumps(result.meta))}
    with atomic_output(target) as temp, open(temp, "wb") as f:
        if compress:
            np.savez_compressed(f, **arrays)
        else:
            npzfile.write_npz(f, arrays)
    return target


def convert_to_npz(
    reader: LogReader,
    output: str | os.PathLike[str],
    options: NpzOptions = NpzOptions(),
    *,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> NpzResult:
    """Convert a log to one ``.npz`` file; see the module docstring for the keys."""
    check_output(output, overwrite=overwrite)
    result = build_arrays(reader, options, progress)
    write_npz(output, result, compress=options.compress, overwrite=overwrite)
    return result
