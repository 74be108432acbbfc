"""Which topics and fields become which LeRobot features.

A mapping is ``{feature key: FeatureSource}``: ``observation.state``, ``action``,
``next.reward``, ``next.done`` take numeric fields (several fields, or a topic's every numeric
field, are concatenated into one vector per frame); ``observation.images.<name>`` takes an image
topic. ``next.done`` is True on each episode's last frame when no source is given for it.

The default mapping knows simrec's own logs:

- the Gymnasium wrappers (``RecordRollout`` / ``RecordVectorRollout``, topics ``<prefix>/obs``,
  ``<prefix>/action``, ``<prefix>/step``): state from ``obs``, action, reward from ``step``, and
  the frames topic. The wrappers stamp the observation (and frame) that a step returns with that
  step's time, after the reset observation of the same time, so these are sampled ``previous``:
  a frame gets the observation the action was chosen from.
- the in-process ``Recorder``: a topic named ``state``/``obs``/``observation``/``qpos`` gives the
  state (its ``reward``/``done``/``action`` fields aside), a topic or field named ``action`` the
  action, one named ``reward`` the reward, every image topic an ``observation.images.<name>``.

Explicit entries (``--map KEY=TOPIC[:FIELD,FIELD]`` or a YAML file) replace or add to it; an
empty source (``--map KEY=``) drops a feature.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .episodes import DONE_FIELDS, EPISODE_TYPE
from .errors import ConvertError
from .reader import LogReader

SAMPLES = ("hold", "previous")
STATE, ACTION, REWARD, DONE = "observation.state", "action", "next.reward", "next.done"
IMAGE_PREFIX = "observation.images."
NUMERIC_KEYS = (STATE, ACTION, REWARD, DONE)

# Fields that are bookkeeping, never data: times, steps, the episode numbering.
META_FIELDS = frozenset({"log_time", "publish_time", "episode_index", "step", "sim_time", "num_envs"})
_STATE_NAMES = frozenset({"state", "obs", "observation", "observations", "qpos", "proprio"})
_ACTION_NAMES = frozenset({"action", "actions"})
_REWARD_NAMES = frozenset({"reward", "rewards"})
_DONE_NAMES = frozenset(name.rsplit(".", 1)[-1] for name in DONE_FIELDS) | {"done", "autoreset"}
_KEY = re.compile(r"^[A-Za-z0-9_.]+$")


@dataclass(frozen=True)
class FeatureSource:
    """Where one feature's values come from: ``fields`` of ``topic`` (None: its every numeric
    field), sampled at each frame time by ``hold`` (the newest message at or before it) or
    ``previous`` (the message before that newest one)."""

    topic: str
    fields: tuple[str, ...] | None = None
    sample: str = "hold"

    def describe(self) -> str:
        fields = "" if self.fields is None else ":" + ",".join(self.fields)
        sample = "" if self.sample == "hold" else f" ({self.sample})"
        return f"{self.topic}{fields}{sample}"


Mapping = dict[str, FeatureSource | None]  # None: the feature is dropped


def leaf(name: str) -> str:
    """The last part of a topic or field name: ``/sim/state`` -> ``state``, ``tensors.qpos`` -> ``qpos``."""
    return re.split(r"[/.]", name.strip("/"))[-1].lower()


def image_key(topic: str) -> str:
    """``/camera/front`` -> ``observation.images.front`` (characters LeRobot keys avoid become _)."""
    return IMAGE_PREFIX + (re.sub(r"[^A-Za-z0-9_]+", "_", leaf(topic)) or "camera")


def gym_prefix(reader: LogReader) -> str | None:
    """The topic prefix of a Gymnasium wrapper's log (``/rollout``), or None."""
    for topic in reader.topics:
        if topic.endswith("/obs"):
            prefix = topic[: -len("/obs")]
            if f"{prefix}/action" in reader.topics and f"{prefix}/step" in reader.topics:
                return prefix
    return None


def default_mapping(reader: LogReader, fields: dict[str, list[str]]) -> Mapping:
    """The mapping simrec's own logs get (see the module docstring); ``fields`` lists each
    numeric topic's fields (bookkeeping fields left out)."""
    prefix = gym_prefix(reader)
    if prefix is not None:
        step_fields = fields.get(f"{prefix}/step", [])
        mapping: Mapping = {
            STATE: FeatureSource(f"{prefix}/obs", None, "previous"),
            ACTION: FeatureSource(f"{prefix}/action"),
        }
        reward = [f for f in step_fields if leaf(f) in _REWARD_NAMES]
        if reward:
            mapping[REWARD] = FeatureSource(f"{prefix}/step", (reward[0],))
        for topic in reader.image_topics:
            mapping[image_key(topic)] = FeatureSource(topic, None, "previous")
        return mapping
    mapping = {}
    state_fields: dict[str, list[str]] = {}
    for topic, names in fields.items():
        if reader.topics[topic].type_name == EPISODE_TYPE or leaf(topic) in ("episode_stats",):
            continue
        topic_leaf = leaf(topic)
        if topic_leaf in _ACTION_NAMES and ACTION not in mapping:
            mapping[ACTION] = FeatureSource(topic)
            continue
        if topic_leaf in _REWARD_NAMES and REWARD not in mapping:
            mapping[REWARD] = FeatureSource(topic)
            continue
        rest = []
        for name in names:
            name_leaf = leaf(name)
            if name_leaf in _REWARD_NAMES and REWARD not in mapping:
                mapping[REWARD] = FeatureSource(topic, (name,))
            elif name_leaf in _ACTION_NAMES and ACTION not in mapping:
                mapping[ACTION] = FeatureSource(topic, (name,))
            elif name_leaf not in _DONE_NAMES:
                rest.append(name)
        if topic_leaf in _STATE_NAMES and rest and not state_fields:
            state_fields[topic] = rest
    if state_fields:
        ((topic, names),) = state_fields.items()
        mapping[STATE] = FeatureSource(topic, tuple(names) if names != fields[topic] else None)
    for topic in reader.image_topics:
        mapping[image_key(topic)] = FeatureSource(topic)
    return mapping


def parse_source(text: str, sample: str | None = None) -> FeatureSource | None:
    """``TOPIC``, ``TOPIC:FIELD`` or ``TOPIC:FIELD,FIELD`` (empty: dropped)."""
    text = text.strip()
    if not text:
        return None
    topic, _, fields = text.partition(":")
    names = tuple(f.strip() for f in fields.split(",") if f.strip()) or None
    source = FeatureSource(topic.strip(), names)
    return source if sample is None else replace(source, sample=sample)


def parse_map_flag(text: str) -> tuple[str, FeatureSource | None]:
    """``--map KEY=TOPIC[:FIELD,...]`` -> (key, source)."""
    key, sep, value = text.partition("=")
    if not sep:
        raise ConvertError(
            f"--map {text!r}: give KEY=TOPIC or KEY=TOPIC:FIELD,FIELD, e.g. --map action=/rollout/action:data"
        )
    return check_key(key.strip(), f"--map {text!r}"), parse_source(value)


def check_key(key: str, where: str) -> str:
    if key not in NUMERIC_KEYS and not (key.startswith(IMAGE_PREFIX) and len(key) > len(IMAGE_PREFIX)):
        raise ConvertError(
            f"{where}: unknown feature {key!r}; features are {', '.join(NUMERIC_KEYS)} and "
            f"{IMAGE_PREFIX}<name>"
        )
    if not _KEY.match(key):
        raise ConvertError(f"{where}: feature {key!r} may hold only letters, digits, _ and .")
    return key


def load_mapping_file(path: str | os.PathLike[str]) -> tuple[Mapping, dict[str, Any]]:
    """A YAML mapping file -> (mapping, settings: ``fps``, ``task``)::

    fps: 50
    task: balance the pole
    features:
      observation.state: /rollout/obs                 # every numeric field
      action: /rollout/action:data                    # TOPIC:FIELD,FIELD
      next.reward: {topic: /rollout/step, fields: [values.reward]}
      observation.images.front: {topic: /camera/front, sample: previous}
    """
    import yaml

    where = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConvertError(f"mapping file {where} does not exist") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ConvertError(f"cannot read mapping file {where}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("features", {}), dict):
        raise ConvertError(f"{where}: expected 'features:' mapping feature keys to topics (see --help)")
    unknown = set(data) - {"features", "fps", "task"}
    if unknown:
        raise ConvertError(
            f"{where}: unknown setting(s) {', '.join(sorted(unknown))}; known: features, fps, task"
        )
    mapping: Mapping = {}
    for key, value in (data.get("features") or {}).items():
        key = check_key(str(key), where)
        if value is None or isinstance(value, str):
            mapping[key] = parse_source(value or "")
        elif isinstance(value, dict) and isinstance(value.get("topic"), str):
            sample = value.get("sample", "hold")
            if sample not in SAMPLES:
                raise ConvertError(
                    f"{where}: {key}: sample must be one of {', '.join(SAMPLES)}, not {sample!r}"
                )
            fields = value.get("fields")
            if isinstance(fields, str):
                fields = [fields]
            if fields is not None and not (
                isinstance(fields, list) and all(isinstance(f, str) for f in fields)
            ):
                raise ConvertError(f"{where}: {key}: fields must be a list of field names")
            mapping[key] = FeatureSource(value["topic"], tuple(fields) if fields else None, sample)
        else:
            raise ConvertError(
                f"{where}: {key}: give a topic (TOPIC or TOPIC:FIELD) or {{topic: ..., fields: [...]}}"
            )
    fps, task = data.get("fps"), data.get("task")
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, int | float)):
        raise ConvertError(f"{where}: fps must be a number of frames per second, not {fps!r}")
    if task is not None and not isinstance(task, str):
        raise ConvertError(f"{where}: task must be a text, not {task!r}")
    return mapping, {k: v for k, v in (("fps", fps), ("task", task)) if v is not None}


def merge(default: Mapping, explicit: Mapping) -> dict[str, FeatureSource]:
    """The default mapping with the explicit entries on top (an explicit ``None`` drops a key).
    An explicit source for a topic the default samples ``previous`` keeps that sampling."""
    previous = {s.topic for s in default.values() if s is not None and s.sample == "previous"}
    out = dict(default)
    for key, source in explicit.items():
        if source is not None and source.topic in previous and source.sample == "hold":
            source = replace(source, sample="previous")
        out[key] = source
    return {k: v for k, v in out.items() if v is not None}
