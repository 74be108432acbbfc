"""MCAP -> NPZ: every numeric field of the selected topics as an array with time first.

Keys are ``<topic>/<field path>`` (see ``fields`` for the paths) plus ``<topic>/log_time``
and ``<topic>/publish_time`` (int64 ns); ``keys="short"`` gives ``robot/state/position`` for
``/robot/state/tensors.position`` (see ``keys``). The time axis of windows, grids and splits is sim
time (publish_time) where every converted topic carries it, else log time (``time="log"`` /
``"sim"`` choose). With alignment every array of every topic has one row per entry of the
top-level ``time`` array, and each topic gets ``<topic>/valid``. With a done field,
``<topic>/episode_index`` numbers episodes (a recorded ``episode_index`` is kept);
``split_episodes`` (one env) writes the arrays of episode ``k`` under ``episode_<k>/``, split at
the episode ends the log records. ``__meta__`` is a JSON string saying
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
from .episodes import EPISODE_TYPE, add_episode_index, prefix, split_rows
from .errors import ConvertError
from .keys import KEY_STYLES, check_unique, key_names
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
    time: str = "auto"  # the time axis: "sim" (publish_time) where every topic carries it, else "log"
    allow_object: bool = False
    compress: bool = False
    keys: str = "full"  # "short": robot/state/position for /robot/state/tensors.position (keys.py)


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
    if options.keys not in KEY_STYLES:
        raise ConvertError(f"--keys must be one of {', '.join(KEY_STYLES)}, not {options.keys!r}")
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
    axis = reader.time_axis(topics, options.time)
    reader.check_window(options.start, options.end, axis=axis, topics=topics)
    sim = axis == "sim"
    time_key = "publish_time" if sim else "log_time"
    recorded_ends = _recorded_episode_ends(reader, time_key) if options.split_episodes else None
    collection = collect(
        reader,
        topics,
        start=None if sim else options.start,  # the sim-time window is cut below
        end=None if sim else options.end,
        allow_object=options.allow_object,
        progress=progress,
    )
    per_topic: dict[str, dict[str, np.ndarray]] = {}
    skipped: dict[str, str] = {}
    notes: dict[str, str] = {}
    for topic, table in collection.tables.items():
        arrays, topic_skipped, topic_notes = table.finish()
        per_topic[topic] = arrays
        skipped.update({f"{topic}/{k}": v for k, v in topic_skipped.items()})
        notes.update({f"{topic}/{k}": v for k, v in topic_notes.items()})
    messages = collection.messages
    if sim:
        origin = reader.sim_span(topics)[0]  # type: ignore[index]
        per_topic = {t: _sim_window(a, origin, options.start, options.end) for t, a in per_topic.items()}
        messages = sum(tables_rows(a) for a in per_topic.values())
    if not messages:
        raise ConvertError(_nothing_converted(reader, topics, options))
    meta: dict = {
        "simrec_version": __version__,
        "source": str(reader.path),
        "options": asdict(options),
        "time_axis": axis,
        "time": TIME_NOTES[axis],
        "topics": {
            t: {"type": reader.topics[t].type_name, "messages": tables_rows(a)} for t, a in per_topic.items()
        },
        "messages": messages,
        "skipped": skipped,
        "notes": notes,
        "problems": collection.problems,
        "align": None,
        "episodes": None,
    }
    common: dict[str, np.ndarray] = {}
    base = None
    if align is not None or options.hz is not None:
        base = time_base(per_topic, align, options.hz, time_key)
        per_topic = {t: align_topic(a, base, options.interp, time_key) for t, a in per_topic.items()}
        common["time"] = base
        meta["align"] = {
            "base": f"topic {align}" if align else f"{options.hz} Hz grid",
            "mode": options.interp,
            "rows": len(base),
            "time_axis": axis,
        }
    types = {t: reader.topics[t].type_name for t in per_topic}
    meta["episodes"] = _episodes(per_topic, types, base, options.split_episodes, time_key, recorded_ends)
    flat = _flat(per_topic, common, meta["episodes"], time_key, types, options.keys)
    return NpzResult(flat, meta)


TIME_NOTES = {
    "log": "log_time: when the recorder received each message (int64 ns since the epoch); "
    "--start/--end/--hz/--align and episode splits use it",
    "sim": "publish_time: the sim time each message carries (int64 ns); "
    "--start/--end/--hz/--align and episode splits use it",
}


def tables_rows(arrays: dict[str, np.ndarray]) -> int:
    return len(arrays["log_time"])


def _sim_window(
    arrays: dict[str, np.ndarray], origin: int, start: float | None, end: float | None
) -> dict[str, np.ndarray]:
    """A topic's rows in publish-time order, cut to ``start``..``end`` seconds of sim time after
    ``origin`` (the first sim time of the converted topics)."""
    times = arrays["publish_time"]
    if len(times) > 1 and np.any(times[1:] < times[:-1]):
        order = np.argsort(times, kind="stable")
        arrays = {k: v[order] for k, v in arrays.items()}
        times = arrays["publish_time"]
    if start is None and end is None:
        return arrays
    keep = np.ones(len(times), dtype=bool)
    if start is not None:
        keep &= times >= origin + round(start * 1e9)
    if end is not None:
        keep &= times <= origin + round(end * 1e9)
    return {k: v[keep] for k, v in arrays.items()}


def _recorded_episode_ends(reader: LogReader, time_key: str) -> tuple[list[int], list[int]] | None:
    """(env indices, end times on the axis) of the episodes the log records (simrec.Episode
    channels), in time order; None when it records none."""
    channels = [t for t, info in reader.topics.items() if info.type_name == EPISODE_TYPE]
    if not channels:
        return None
    found = []
    for _, log_time, publish_time, message in reader.iter_decoded(channels):
        found.append((publish_time if time_key == "publish_time" else log_time, int(message.env_index)))
    found.sort()
    return [env for _, env in found], [t for t, _ in found]


def _episodes(
    per_topic: dict[str, dict[str, np.ndarray]],
    types: dict[str, str],
    base: np.ndarray | None,
    split: bool,
    time_key: str,
    recorded: tuple[list[int], list[int]] | None,
) -> dict | None:
    """Add ``episode_index`` to topics with a done field; plan the split when asked (at the
    recorded episode ends, else at a done field's)."""
    source = None
    for topic, arrays in per_topic.items():
        ends = add_episode_index(arrays, types[topic])
        if ends is not None:
            source = source or (topic, ends)
    if recorded is not None and split:
        envs = sorted(set(recorded[0]))
        info: dict = {"topic": "recorded episodes (simrec.Episode)", "envs": len(envs)}
        info["ended"] = len(recorded[1])
        ends_ns = np.asarray(recorded[1], dtype=np.int64)
    elif source is None:
        if split:
            raise ConvertError(
                "--split-episodes needs recorded episodes (rec.episode_end) or a done/terminated "
                f"field (e.g. StateBatch tensor 'done'); {', '.join(per_topic)} have neither"
            )
        return None
    else:
        topic, ends = source
        info = {"topic": topic, "envs": 1 if ends.ndim == 1 else int(np.prod(ends.shape[1:]))}
        info["ended"] = int(ends.sum())
        if split and info["envs"] == 1:
            times = base if base is not None else per_topic[topic][time_key]
            ends_ns = times[np.flatnonzero(ends.reshape(len(ends), -1)[:, 0])]
    if split and info["envs"] > 1:
        info["split"] = False
        info["note"] = (
            f"{info['topic']} has {info['envs']} envs: wrote episode_index instead of one group "
            "per episode (split needs a single env)"
        )
    elif split:
        info["split"] = True
        info["ends_ns"] = ends_ns.tolist()
        info["time_axis"] = "sim" if time_key == "publish_time" else "log"
    return info


def _flat(
    per_topic: dict[str, dict[str, np.ndarray]],
    common: dict[str, np.ndarray],
    episodes: dict | None,
    time_key: str = "log_time",
    types: dict[str, str] | None = None,
    keys: str = "full",
) -> dict[str, np.ndarray]:
    types = types or {}
    names = {t: key_names(t, types.get(t, ""), a, keys) for t, a in per_topic.items()}
    if keys != "full":
        full = {f"{t}/{k}": name for t, fields in names.items() for k, name in fields.items()}
        check_unique({**full, **{k: k for k in common}})
    flat = {names[topic][k]: v for topic, arrays in per_topic.items() for k, v in arrays.items()}
    flat.update(common)
    if not (episodes and episodes.get("split")):
        return flat
    ends = np.asarray(episodes["ends_ns"], dtype=np.int64)
    groups = [(names[t], a, a[time_key]) for t, a in per_topic.items()]
    if "time" in common:  # aligned: every topic follows the common base
        groups = [(names[t], a, common["time"]) for t, a in per_topic.items()]
        groups.append(({k: k for k in common}, common, common["time"]))
    # Episodes that ended before the converted window (--start) give no group; numbering keeps
    # their place, so episode_<k> is the k-th recorded episode.
    firsts = [times[0] for _, _, times in groups if len(times)]
    skip = int(np.searchsorted(ends, min(firsts), side="left")) if firsts else 0
    ends = ends[skip:]
    out: dict[str, np.ndarray] = {}
    used: set[int] = set()
    for key_names_of, arrays, times in groups:
        for index, rows in enumerate(split_rows(times, ends)):
            if index == len(ends) and rows.start == rows.stop:
                continue  # nothing after the last episode's end
            used.add(index)
            group = prefix(skip + index)
            for k, v in arrays.items():
                out[f"{group}/{key_names_of[k].lstrip('/')}"] = v[rows]
    episodes["count"] = len(used)
    episodes["first"] = skip
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
