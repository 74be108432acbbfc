"""One log's episodes as LeRobot frames: times on the sim-time axis at the dataset's fps, and for
each feature the row of its topic that every frame takes.

An episode's frames are ``end, end - 1/fps, ...`` back to its start (the grid is anchored on the
recorded end, so the last frame is the step that ended it), never before or at the previous
episode's end of the same env. A feature is sampled ``hold`` (the newest message at or before
the frame time) or ``previous`` (the message before that one: the Gymnasium wrappers' observation
the action was chosen from). A frame whose message is older than 1.5 periods (of the frame rate
or the topic, the longer) has no value: its episode is left out and said so.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .collect import collect
from .episodes import EPISODE_TYPE
from .errors import ConvertError
from .lerobot_mapping import (
    ACTION,
    DONE,
    META_FIELDS,
    REWARD,
    STATE,
    FeatureSource,
    Mapping,
    default_mapping,
    gym_prefix,
    leaf,
    merge,
)
from .reader import LogReader

_STATE_TOPIC_NAMES = ("state", "obs", "observation", "observations", "qpos", "proprio", "action", "actions")


@dataclass
class Episode:
    """One recorded episode of one env, as frames."""

    env_index: int
    log_episode_index: int
    times: np.ndarray  # int64 ns of sim time, one per frame
    rows: dict[str, np.ndarray] = field(default_factory=dict)  # feature -> row of its topic per frame


@dataclass
class LogFrames:
    """What one log gives the dataset: its mapping, the numeric values and image messages the
    frames index, and its episodes."""

    source: str
    fps: int
    mapping: dict[str, FeatureSource]
    envs: int
    values: dict[str, np.ndarray]  # numeric feature -> [rows, envs?, D] float values of its topic
    images: dict[str, list[bytes]]  # image feature -> payloads in sim-time order
    image_types: dict[str, str]
    episodes: list[Episode]
    names: dict[str, list[str]]
    dtypes: dict[str, str]
    notes: list[str] = field(default_factory=list)


def numeric_fields(arrays: dict[str, np.ndarray]) -> list[str]:
    """The data fields of a topic's arrays: numeric, and not times or step counters."""
    return [
        k
        for k, v in arrays.items()
        if k not in META_FIELDS and not k.startswith("timestamp.") and v.dtype.kind in "biuf"
    ]


def _candidates(reader: LogReader, explicit: Mapping) -> list[str]:
    """Numeric topics the default mapping may use, plus the explicit ones (resolved)."""
    topics = []
    prefix = gym_prefix(reader)
    if prefix is not None:
        topics += [f"{prefix}/obs", f"{prefix}/action", f"{prefix}/step"]
    else:
        topics += [
            t
            for t in reader.numeric_topics
            if reader.topics[t].type_name != EPISODE_TYPE
            and (leaf(t) in _STATE_TOPIC_NAMES or leaf(t) in ("reward", "rewards"))
        ]
    for source in explicit.values():
        if source is not None:
            (topic,) = reader.resolve_topics([source.topic])
            if topic not in reader.image_topics:
                topics.append(topic)
    return list(dict.fromkeys(topics))


def _episode_records(reader: LogReader) -> list[tuple[int, int, int, int]]:
    """(env_index, episode_index, start ns, end ns) of the episodes the log records."""
    channels = [t for t, info in reader.topics.items() if info.type_name == EPISODE_TYPE]
    if not channels:
        raise ConvertError(
            f"{reader.path} records no episodes (no simrec.Episode channel): a LeRobot dataset is made of "
            "episodes; record them with rec.episode_end(...) or the Gymnasium wrappers"
        )
    out = []
    for _, _, _, message in reader.iter_decoded(channels):
        out.append(
            (
                int(message.env_index),
                int(message.episode_index),
                round(float(message.start_time) * 1e9),
                round(float(message.end_time) * 1e9),
            )
        )
    if not out:
        raise ConvertError(f"{reader.path} has an episode channel but no episode ended in it")
    return sorted(out, key=lambda e: (e[3], e[0]))


def _frame_times(start: int, end: int, previous_end: int | None, period: float) -> np.ndarray:
    """Frame times of one episode: back from ``end`` by ``period``, down to ``start`` (inclusive)
    or, where the episode starts at the previous one's end, above ``previous_end``."""
    tol = period * 1e-3
    if previous_end is None or start > previous_end:
        count = int(np.floor((end - start + tol) / period)) + 1 if end >= start else 0
    else:
        count = int(np.ceil((end - previous_end - tol) / period))
    k = np.arange(count - 1, -1, -1, dtype=np.float64)
    return (end - np.round(k * period)).astype(np.int64)


def pick_rows(times: np.ndarray, frames: np.ndarray, sample: str, period: float) -> np.ndarray:
    """Row of ``times`` (sorted) each frame time takes; -1 where there is none recent enough."""
    tol = period * 1e-3
    rows = np.searchsorted(times, frames + tol, side="right") - (2 if sample == "previous" else 1)
    if len(times) > 1:
        steps = np.diff(times)
        steps = steps[steps > 0]
        own = float(np.median(steps)) if len(steps) else period
    else:
        own = period
    limit = 1.5 * max(period, own) + tol
    ok = rows >= 0
    ok[ok] &= (frames[ok] - times[rows[ok]]) <= limit
    return np.where(ok, rows, -1)


def _vector(
    arrays: dict[str, np.ndarray], fields: list[str], envs: int, where: str
) -> tuple[np.ndarray, list[str]]:
    """``fields`` concatenated per row: [rows, D] (one env) or [rows, envs, D]; and D names."""
    parts, names = [], []
    for name in fields:
        array = arrays[name]
        rows = len(array)
        if envs > 1:
            if array.ndim < 2 or array.shape[1] != envs:
                raise ConvertError(
                    f"{where}: field {name} has shape {list(array.shape[1:])} per message, but the log's "
                    f"episodes are of {envs} envs: a vector log's fields are [envs, ...]"
                )
            flat = array.reshape(rows, envs, -1)
        else:
            flat = array.reshape(rows, -1)
        width = flat.shape[-1]
        short = name.removeprefix("tensors.").removeprefix("values.")
        names += [short] if width == 1 else [f"{short}.{i}" for i in range(width)]
        parts.append(flat.astype(np.float32))
    return np.concatenate(parts, axis=-1), names


def dataset_fps(reader: LogReader, frames_mapping: dict, requested: float | None) -> int:
    """The dataset's frame rate: ``requested``, else a camera's clip rate (the env's render_fps),
    else the camera's, the action's or the state's recorded sim rate; whole frames per second
    (LeRobot's)."""
    if requested is not None:
        if not requested > 0 or abs(requested - round(requested)) > 1e-9:
            raise ConvertError(
                f"--fps must be a whole positive number of frames per second (LeRobot's), not {requested:g}"
            )
        return round(requested)
    topics = [s.topic for s in frames_mapping.values()]
    cameras = [t for t in topics if t in reader.image_topics]
    clip = {c.get("fps") for c in reader.summary.clips if c.get("topic") in cameras and c.get("fps")}
    rates = []
    if len(clip) == 1:
        with contextlib.suppress(ValueError):
            rates.append(float(clip.pop()))
    by_topic = {t.topic: t.sim_frequency_hz for t in reader.summary.topics}
    # then the action's rate (one per step; a Gymnasium log's observations add one per reset), the state's
    steps = [[frames_mapping[k].topic] for k in (ACTION, STATE) if k in frames_mapping]
    for group in (cameras, *steps):
        if not rates:
            rates += [by_topic[t] for t in group if by_topic.get(t)]
    if not rates:
        raise ConvertError(f"{reader.path}: cannot tell the frame rate of the mapped topics: give --fps")
    rate = max(rates)
    nearest = round(rate)
    if nearest < 1 or abs(rate - nearest) > 0.03 * rate:
        raise ConvertError(
            f"{reader.path}: the recorded rate is {rate:.3f} Hz, and LeRobot's fps is a whole number: "
            "give --fps"
        )
    return nearest


def read_log(
    reader: LogReader,
    explicit: Mapping,
    fps: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LogFrames:
    """Read one log's mapped topics and plan its episodes' frames at ``fps`` (default: its rate)."""
    records = _episode_records(reader)
    envs = max(e[0] for e in records) + 1
    topics = _candidates(reader, explicit)
    tables = collect(reader, topics, progress=progress).tables if topics else {}
    per_topic = {t: table.arrays() for t, table in tables.items()}
    fields = {t: numeric_fields(a) for t, a in per_topic.items()}
    default = default_mapping(reader, fields)
    if envs > 1:  # a vector log's frames topic shows the first env only
        default = {k: v for k, v in default.items() if v is None or v.topic not in reader.image_topics}
    resolved = {}
    for key, source in explicit.items():
        if source is not None:
            (topic,) = reader.resolve_topics([source.topic])
            source = FeatureSource(topic, source.fields, source.sample)
        resolved[key] = source
    mapping = merge(default, resolved)
    if not mapping:
        raise ConvertError(
            f"no features for {reader.path}: name them with --map KEY=TOPIC[:FIELD,...] or --mapping "
            f"map.yaml; {reader.describe_topics()}"
        )
    values: dict[str, np.ndarray] = {}
    images: dict[str, list[bytes]] = {}
    image_types: dict[str, str] = {}
    names: dict[str, list[str]] = {}
    dtypes: dict[str, str] = {}
    times: dict[str, np.ndarray] = {}
    where = str(reader.path)
    for key, source in mapping.items():
        topic = source.topic
        if topic in reader.image_topics:
            if source.fields:
                raise ConvertError(f"{where}: {key}: {topic} holds images; give it without fields")
            if key in (STATE, ACTION, REWARD, DONE):
                raise ConvertError(f"{where}: {key} takes numeric fields, and {topic} holds images")
            stamps, payloads = [], []
            for record in reader.iter_raw([topic]):
                stamps.append(record.publish_time)
                payloads.append(bytes(record.data))
            order = np.argsort(np.asarray(stamps, dtype=np.int64), kind="stable")
            times[key] = np.asarray(stamps, dtype=np.int64)[order]
            images[key] = [payloads[i] for i in order]
            image_types[key] = reader.topics[topic].type_name
            continue
        if not key.startswith(("observation.state", "action", "next.")):
            raise ConvertError(f"{where}: {key} is an image feature, and {topic} is not an image topic")
        arrays = per_topic[topic]
        available = fields[topic]
        chosen = list(source.fields) if source.fields else available
        missing = [f for f in chosen if f not in arrays or arrays[f].dtype.kind not in "biuf"]
        if missing or not chosen:
            raise ConvertError(
                f"{where}: {key}: {topic} has no numeric field {', '.join(missing) or '(none at all)'}; "
                f"its fields: {', '.join(available) or 'none'}"
            )
        vector, feature_names = _vector(arrays, chosen, envs, f"{where}: {key} ({topic})")
        order = np.argsort(arrays["publish_time"], kind="stable")
        times[key] = arrays["publish_time"][order]
        values[key] = vector[order]
        names[key] = feature_names
        dtypes[key] = "bool" if key == DONE else "float32"
        if key in (REWARD, DONE) and vector.shape[-1] != 1:
            raise ConvertError(
                f"{where}: {key} takes one value per frame; {source.describe()} gives {vector.shape[-1]}"
            )
    if reader.sim_span([s.topic for s in mapping.values()]) is None:
        raise ConvertError(
            f"{where}: the mapped topics do not carry sim time (their publish times are the recorder's "
            "clock): LeRobot frames are sampled on sim time; record with sim_time= (or Recorder(dt=...))"
        )
    rate = dataset_fps(reader, mapping, fps)
    episodes, notes = _plan(records, times, mapping, 1e9 / rate, where)
    return LogFrames(where, rate, mapping, envs, values, images, image_types, episodes, names, dtypes, notes)


def _count(episodes: list[str]) -> str:
    return "1 episode" if len(episodes) == 1 else f"{len(episodes)} episodes"


def _plan(
    records: list[tuple[int, int, int, int]],
    times: dict[str, np.ndarray],
    mapping: dict[str, FeatureSource],
    period: float,
    where: str,
) -> tuple[list[Episode], list[str]]:
    episodes: list[Episode] = []
    short: list[str] = []
    missing: dict[str, list[str]] = {}  # feature -> the episodes it leaves out
    previous_end: dict[int, int] = {}
    for env, index, start, end in records:
        frames = _frame_times(start, end, previous_end.get(env), period)
        previous_end[env] = end
        if len(frames) == 0:
            short.append(f"episode {index} of env {env}")
            continue
        episode = Episode(env, index, frames)
        for key, stamps in times.items():
            rows = pick_rows(stamps, frames, mapping[key].sample, period)
            if (rows < 0).any():
                first = frames[int(np.argmax(rows < 0))]
                missing.setdefault(key, []).append(f"episode {index} of env {env} at {first / 1e9:.3f} s")
                break
            episode.rows[key] = rows
        else:
            episodes.append(episode)
    notes = []
    if short:
        notes.append(f"{where}: {_count(short)} shorter than a frame at this fps left out ({short[0]})")
    for key, which in missing.items():
        notes.append(
            f"{where}: {_count(which)} left out: {mapping[key].topic} has no message for {key} near "
            f"every frame (first: {which[0]} of sim time); --map {key}= drops the feature instead"
        )
    return episodes, notes
