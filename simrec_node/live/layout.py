"""A Foxglove layout to start from, made from the topics of a log or of the live graph.

Panels: a Plot per state tensor (``simrec.StateBatch`` tensors, ``simrec.Tensor`` topics) of its
first elements, a Plot of each ``simrec.Scalars`` topic's values, an Image panel per camera
(``foxglove.CompressedImage``/``RawImage``), a 3D panel when there are transforms or scenes, the
Topic Graph, and a Plot of the recorder's drops on ``/simrec/stats``.

Two formats: ``foxglove``, the layout JSON of the current Foxglove app (``{"version": 1,
"content": ...}``, built with foxglove-sdk's ``foxglove.layouts``, layout schema 0.62.0), for
its "Import layout"; and ``lichtblick``, the older layout JSON of Foxglove Studio 1.x that
Lichtblick imports (``configById`` + a mosaic ``layout`` tree).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

import foxglove.layouts as fl
from google.protobuf.message import DecodeError

from simrec_node.msgs import Scalars, StateBatch, Tensor

FORMATS = ("foxglove", "lichtblick")
STATS_TOPIC = "/simrec/stats"
IMAGE_TYPES = ("foxglove.CompressedImage", "foxglove.RawImage")
SCENE_TYPES = ("foxglove.FrameTransforms", "foxglove.FrameTransform", "foxglove.SceneUpdate")
SAMPLED_TYPES = ("simrec.StateBatch", "simrec.Tensor", "simrec.Scalars")
_ELEMENTS = 4  # series per tensor plot: its first elements
_DATA_FIELDS = ("float32_data", "float64_data", "int32_data", "int64_data", "uint32_data", "uint64_data")
_DROPS = ("gap_dropped", "queue_dropped", "disk_dropped")


@dataclass(frozen=True)
class TopicSample:
    """A topic, its type, and one message (for the field names of tensors and scalars)."""

    topic: str
    type_name: str
    sample: bytes | None = None


@dataclass
class LayoutPlan:
    """What the layout shows, format aside: plot title -> message paths, image topics, 3D topics."""

    plots: dict[str, list[str]] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    scene: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, topics: Iterable[TopicSample], *, stats: bool = False) -> LayoutPlan:
        plan = cls()
        for topic in sorted(topics, key=lambda t: t.topic):
            if topic.type_name in IMAGE_TYPES:
                plan.images.append(topic.topic)
            elif topic.type_name in SCENE_TYPES:
                plan.scene.append(topic.topic)
            elif topic.topic == STATS_TOPIC:
                stats = True
            else:
                plan.plots.update(_plots(topic))
        if stats:
            plan.plots[f"{STATS_TOPIC} drops"] = [f"{STATS_TOPIC}.{name}" for name in _DROPS]
        return plan


def _plots(topic: TopicSample) -> dict[str, list[str]]:
    """Plot title -> paths for a topic whose sample names its fields; none for other topics."""
    if topic.sample is None or topic.type_name not in SAMPLED_TYPES:
        return {}
    try:
        if topic.type_name == "simrec.StateBatch":
            batch = StateBatch.FromString(topic.sample)
            return {
                f"{topic.topic} {name}": _elements(f"{topic.topic}.tensors.{name}", batch.tensors[name])
                for name in sorted(batch.tensors)
                if _elements("", batch.tensors[name])
            }
        if topic.type_name == "simrec.Tensor":
            paths = _elements(topic.topic, Tensor.FromString(topic.sample))
            return {topic.topic: paths} if paths else {}
        names = sorted(Scalars.FromString(topic.sample).values)
        return {topic.topic: [f"{topic.topic}.values.{name}" for name in names]} if names else {}
    except DecodeError:
        return {}


def _elements(path: str, tensor: Tensor) -> list[str]:
    for name in _DATA_FIELDS:
        count = len(getattr(tensor, name))
        if count:
            return [f"{path}.{name}[{i}]" for i in range(min(count, _ELEMENTS))]
    return []  # bytes (uint8/bool) tensors: nothing a plot draws


def foxglove_layout(plan: LayoutPlan) -> str:
    """The current Foxglove app's layout JSON (layout schema of ``foxglove.layouts``)."""
    panels: list[fl.BasePanel] = [
        fl.PlotPanel(title=title, config=fl.PlotConfig(paths=[fl.PlotSeries(value=p) for p in paths]))
        for title, paths in plan.plots.items()
    ]
    views: list[fl.BasePanel] = [
        fl.ImagePanel(title=topic, config=fl.ImageConfig(image_mode=fl.ImageModeConfig(image_topic=topic)))
        for topic in plan.images
    ]
    if plan.scene:
        topics = {topic: fl.BaseRendererBaseSettings(visible=True) for topic in plan.scene}
        views.append(fl.ThreeDeePanel(title="3D", config=fl.ThreeDeeConfig(topics=topics)))
    views.append(fl.TopicGraphPanel())
    rows = [_split("row", row) for row in (_chunks(panels, 3) + _chunks(views, 3))]
    return fl.Layout(content=_split("column", rows)).to_json()


def _split(direction: str, items: list) -> fl.SplitContainer | fl.BasePanel:
    if len(items) == 1:
        return items[0]
    return fl.SplitContainer(direction=direction, items=[fl.SplitItem(content=item) for item in items])


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def lichtblick_layout(plan: LayoutPlan) -> dict:
    """Foxglove Studio 1.x's layout JSON, which Lichtblick imports."""
    config: dict[str, dict] = {}
    counter = itertools.count()

    def panel(kind: str, body: dict) -> str:
        panel_id = f"{kind}!simrec{next(counter)}"
        config[panel_id] = body
        return panel_id

    plots = [
        panel(
            "Plot",
            {
                "title": title,
                "paths": [{"value": p, "enabled": True, "timestampMethod": "receiveTime"} for p in paths],
            },
        )
        for title, paths in plan.plots.items()
    ]
    views = [panel("Image", {"imageMode": {"imageTopic": topic}}) for topic in plan.images]
    if plan.scene:
        views.append(panel("3D", {"topics": {topic: {"visible": True} for topic in plan.scene}}))
    views.append(panel("TopicGraph", {}))
    rows = [_mosaic("row", row) for row in (_chunks(plots, 3) + _chunks(views, 3))]
    return {
        "configById": config,
        "globalVariables": {},
        "userNodes": {},
        "playbackConfig": {"speed": 1},
        "layout": _mosaic("column", rows),
    }


def _mosaic(direction: str, items: list) -> str | dict:
    """A react-mosaic tree: nested binary splits sharing the space evenly."""
    if len(items) == 1:
        return items[0]
    return {
        "direction": direction,
        "first": items[0],
        "second": _mosaic(direction, items[1:]),
        "splitPercentage": 100 / len(items),
    }
