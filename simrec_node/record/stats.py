"""Per-topic counters: what arrived, what was written, and what was lost where."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields

from simrec_node.graph import GapCounter


@dataclass(slots=True)  # slots: its counters are bumped several times per message
class TopicStats:
    """Counts for one topic. ``gap_dropped``: lost in transport (sequence gaps);
    ``queue_dropped``: refused because the recorder's queue was full; ``disk_dropped``: lost
    because the disk was full; ``paused_skipped``: not recorded on purpose, while paused."""

    received: int = 0
    written: int = 0
    bytes_written: int = 0
    gap_dropped: int = 0
    queue_dropped: int = 0
    disk_dropped: int = 0
    paused_skipped: int = 0
    gaps: GapCounter = field(default_factory=GapCounter, repr=False)

    @property
    def dropped(self) -> int:
        return self.gap_dropped + self.queue_dropped + self.disk_dropped

    def counters(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in _COUNTER_NAMES}

    def as_json(self) -> str:
        return counters_json(self.counters())


_COUNTER_NAMES = tuple(f.name for f in fields(TopicStats) if f.name != "gaps")


def counters_json(counters: dict[str, int]) -> str:
    return json.dumps(counters, separators=(",", ":"))


class RecordingStats:
    """The recorder's counters, keyed by topic."""

    def __init__(self) -> None:
        self.topics: dict[str, TopicStats] = {}

    def topic(self, name: str) -> TopicStats:
        stats = self.topics.get(name)
        if stats is None:
            stats = self.topics[name] = TopicStats()
        return stats

    @property
    def received(self) -> int:
        return sum(s.received for s in self.topics.values())

    @property
    def written(self) -> int:
        return sum(s.written for s in self.topics.values())

    @property
    def bytes_written(self) -> int:
        return sum(s.bytes_written for s in self.topics.values())

    @property
    def dropped(self) -> int:
        return sum(s.dropped for s in self.topics.values())

    def as_metadata(self) -> dict[str, str]:
        """The ``simrec.topic_stats`` metadata record: topic -> JSON counters."""
        return {topic: stats.as_json() for topic, stats in sorted(self.topics.items())}

    def counters(self) -> dict[str, dict[str, int]]:
        """topic -> counters now; a split file stores the difference of two of these."""
        return {topic: stats.counters() for topic, stats in list(self.topics.items())}

    def metadata_since(self, before: dict[str, dict[str, int]]) -> dict[str, str]:
        """``simrec.topic_stats`` for what happened since ``before`` (one file of a split recording)."""
        out = {}
        for topic, now in sorted(self.counters().items()):
            base = before.get(topic, {})
            out[topic] = counters_json({key: value - base.get(key, 0) for key, value in now.items()})
        return out
