"""Read the selected topics of a log into per-topic column tables (one pass, streaming)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simrec_node.msgs import decode_tensor, decode_tensors

from .columns import Column
from .fields import Kind, flatten
from .reader import LogReader

TENSOR_TYPE = "simrec.Tensor"


class TopicTable:
    """The messages of one topic as columns; row ``i`` is the ``i``-th message in log-time order."""

    def __init__(self, topic: str, type_name: str, capacity: int, allow_object: bool) -> None:
        self.topic = topic
        self.type_name = type_name
        self.capacity = capacity
        self.allow_object = allow_object
        self.log_time: list[int] = []
        self.publish_time: list[int] = []
        self.columns: dict[str, Column] = {}
        self.bulk: dict[str, np.ndarray] = {}  # columns decoded in bulk (`set_rows`)

    def add(self, log_time: int, publish_time: int, message: Any) -> None:
        """One row; ValueError (the row not added) for a message whose schema cannot be walked
        (a damaged schema record: they carry no CRC outside chunks)."""
        values: dict[str, Any] = {}
        kinds: dict[str, Kind] = {}
        try:
            flatten(message, values, kinds)
        except (KeyError, AttributeError, TypeError) as exc:
            raise ValueError(f"{type(exc).__name__}: {exc}") from None
        row = len(self.log_time)
        self.log_time.append(log_time)
        self.publish_time.append(publish_time)
        columns = self.columns
        for key, value in values.items():
            column = columns.get(key)
            if column is None:
                column = columns[key] = Column(key, kinds.get(key), value, self.capacity, self.allow_object)
            column.append(row, value)

    def set_rows(self, log_time: list[int], publish_time: list[int], columns: dict[str, np.ndarray]) -> None:
        """All rows at once, decoded in bulk (the table must be empty)."""
        self.log_time, self.publish_time = log_time, publish_time
        self.bulk = columns

    @property
    def rows(self) -> int:
        return len(self.log_time)

    def finish(self) -> tuple[dict[str, np.ndarray], dict[str, str], dict[str, str]]:
        """(arrays by field path incl. ``log_time``/``publish_time``, skipped reasons, notes)."""
        rows = self.rows
        log_time = _times(self.log_time)
        arrays: dict[str, np.ndarray] = {"log_time": log_time, "publish_time": _times(self.publish_time)}
        skipped: dict[str, str] = {}
        notes: dict[str, str] = {}
        arrays.update(self.bulk)
        for key, column in self.columns.items():
            array, note = column.finish(rows)
            if array is None:
                skipped[key] = note
                continue
            if key in arrays:  # a field literally named log_time: keep both
                key = "field." + key
            arrays[key] = array
            if note:
                notes[key] = note
        if rows > 1 and np.any(log_time[1:] < log_time[:-1]):  # chunks written out of order
            order = np.argsort(log_time, kind="stable")
            arrays = {k: v[order] for k, v in arrays.items()}
        return arrays, skipped, notes

    def arrays(self) -> dict[str, np.ndarray]:
        return self.finish()[0]


class _TensorRows:
    """A ``simrec.Tensor`` topic's payloads, kept packed (no message object per row) and decoded
    in bulk at the end when they share one layout (`decode_tensors`); else one by one."""

    def __init__(self) -> None:
        self.payloads = bytearray()
        self.lengths: list[int] = []
        self.log_time: list[int] = []
        self.publish_time: list[int] = []

    def add(self, log_time: int, publish_time: int, data: Any) -> None:
        self.payloads += data
        self.lengths.append(len(data))
        self.log_time.append(log_time)
        self.publish_time.append(publish_time)

    def into(self, table: TopicTable, failed: dict[str, int]) -> int:
        """Fill ``table``; the number of rows that did not decode (counted in ``failed``)."""
        n = len(self.lengths)
        if n and min(self.lengths) == max(self.lengths):
            rows = np.frombuffer(self.payloads, dtype=np.uint8).reshape(n, self.lengths[0])
            data = decode_tensors(rows)
            if data is not None:
                table.set_rows(self.log_time, self.publish_time, {"data": data})
                return 0
        bad = 0
        at = 0
        for log_time, publish_time, length in zip(
            self.log_time, self.publish_time, self.lengths, strict=True
        ):
            payload = bytes(self.payloads[at : at + length])
            at += length
            try:
                table.add(log_time, publish_time, decode_tensor(payload))
            except ValueError:
                bad += 1
        if bad:
            failed[table.topic] = failed.get(table.topic, 0) + bad
        return bad


def _times(values: list[int]) -> np.ndarray:
    """Nanosecond times as int64, or uint64 where a log holds times past 2**63 (valid MCAP)."""
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        return np.array(values, dtype=np.uint64)


@dataclass
class Collection:
    """What one pass over a log produced: a table per topic and what could not be read."""

    tables: dict[str, TopicTable]
    problems: list[str] = field(default_factory=list)
    messages: int = 0


def collect(
    reader: LogReader,
    topics: Iterable[str] | None = None,
    *,
    start: float | None = None,
    end: float | None = None,
    allow_object: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Collection:
    """Tables for ``topics`` (default: every non-image topic) between ``start`` and ``end`` s."""
    names = reader.resolve_topics(topics) if topics is not None else reader.numeric_topics
    tables = {
        t: TopicTable(t, reader.topics[t].type_name, reader.topics[t].count, allow_object) for t in names
    }
    bulk = {t: _TensorRows() for t in names if reader.topics[t].type_name == TENSOR_TYPE}
    count = 0
    unflattened: dict[str, int] = {}
    for topic, log_time, publish_time, message in reader.iter_decoded(
        names, start, end, progress=progress, raw=bulk
    ):
        rows = bulk.get(topic)
        if rows is not None:
            rows.add(log_time, publish_time, message)
            count += 1
            continue
        try:
            tables[topic].add(log_time, publish_time, message)
        except ValueError:
            unflattened[topic] = unflattened.get(topic, 0) + 1
            continue
        count += 1
    for topic, rows in bulk.items():
        count -= rows.into(tables[topic], unflattened)
    problems = list(reader.problems)
    problems += [
        f"{n} message(s) on {topic} do not fit their schema (is it damaged?) and were skipped"
        for topic, n in unflattened.items()
    ]
    return Collection(tables, problems, count)
