"""Read the selected topics of a log into per-topic column tables (one pass, streaming).

The log is read a chunk at a time as columns (``LogReader.iter_batches``): a tensor topic's
messages of a chunk are decoded together, other types one message at a time from the chunk.
Image topics are decoded to pixels on a thread pool (``pixels``), in the same pass.
Rows are in record order per chunk; ``TopicTable.finish`` sorts them by log time (stable),
which is the order ``iter_decoded`` gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simrec_node.logs import Batch
from simrec_node.msgs import (
    StateBatchView,
    decode_state_batch,
    decode_state_batches,
    decode_tensor,
    decode_tensors,
)

from .columns import Column
from .decoders import Decoder
from .fields import Kind, flatten
from .pixels import FrameRows
from .reader import LogReader

TENSOR_TYPE = "simrec.Tensor"
STATE_TYPE = "simrec.StateBatch"
BULK_STATE_BYTES = 64 << 10
_UNSET = object()


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

    def set_rows(
        self, log_time: np.ndarray, publish_time: np.ndarray, columns: dict[str, np.ndarray]
    ) -> None:
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


_MOST_LAYOUTS = 8  # payload lengths in one chunk's rows that are still decoded in bulk


def _same_fields(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    """Whether two blocks of bulk columns have the same fields (in order), dtypes and row shapes."""
    return list(a) == list(b) and all(
        a[k].dtype == b[k].dtype and a[k].shape[1:] == b[k].shape[1:] for k in a
    )


class _BulkRows:
    """A topic's rows decoded a chunk at a time in bulk (one check of the bytes around the data,
    one copy of the data per field) where a chunk's payloads share one layout, else one message
    at a time. Rows of every chunk become the table's columns when they all have the same fields
    with one dtype and shape each; else they go through the table one by one (ragged, missing
    fields: as the per-message path gives them)."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray] | list[Any]]] = []

    def _bulk(self, rows: np.ndarray) -> dict[str, np.ndarray] | None:
        raise NotImplementedError

    def _one(self, payload: memoryview) -> Any:
        """One message decoded and owned (the chunk's buffer goes); ValueError if it does not."""
        raise NotImplementedError

    def _row(self, columns: dict[str, np.ndarray], i: int) -> Any:
        """Row ``i`` of bulk columns as the message the per-message path would have decoded."""
        raise NotImplementedError

    def add(self, batch: Batch, which: np.ndarray) -> None:
        log_time, publish_time = batch.log_time[which], batch.publish_time[which]
        columns = self._bulk_by_length(batch, which)
        if columns is not None:
            self.parts.append((log_time, publish_time, columns))
            return
        decoded: list[Any] = []
        for i in which:
            try:
                decoded.append(self._one(batch.payload(i)))
            except ValueError:
                decoded.append(None)
        self.parts.append((log_time, publish_time, decoded))

    def _bulk_by_length(self, batch: Batch, which: np.ndarray) -> dict[str, np.ndarray] | None:
        """The chunk's rows decoded in bulk, one group per payload length (a step counter that
        grows a varint byte changes the length), put back in record order; None unless every
        group decodes to the same fields, dtypes and shapes."""
        lengths = batch.end[which] - batch.start[which]
        sizes = np.unique(lengths)
        if len(sizes) == 1:
            rows = batch.rows(which)
            return self._bulk(rows) if rows is not None else None
        if len(sizes) > _MOST_LAYOUTS:
            return None
        groups = []
        for size in sizes:
            at = np.flatnonzero(lengths == size)
            rows = batch.rows(which[at])
            columns = self._bulk(rows) if rows is not None else None
            if columns is None or (groups and not _same_fields(columns, groups[0][1])):
                return None
            groups.append((at, columns))
        out = {}
        for key, first in groups[0][1].items():
            column = np.empty((len(which), *first.shape[1:]), dtype=first.dtype)
            for at, columns in groups:
                column[at] = columns[key]
            out[key] = column
        return out

    def into(self, table: TopicTable, failed: dict[str, int]) -> int:
        """Fill ``table``; the number of rows that did not decode (counted in ``failed``)."""
        blocks = [data for _, _, data in self.parts if isinstance(data, dict)]
        if blocks and len(blocks) == len(self.parts):
            first = blocks[0]
            if all(_same_fields(b, first) for b in blocks):
                if len(blocks) > 1:
                    first = {k: np.concatenate([b[k] for b in blocks]) for k in first}
                log_time = np.concatenate([t for t, _, _ in self.parts])
                publish_time = np.concatenate([p for _, p, _ in self.parts])
                table.set_rows(log_time, publish_time, first)
                return 0
        bad = 0
        for log_times, publish_times, data in self.parts:
            values = (self._row(data, i) for i in range(len(log_times))) if isinstance(data, dict) else data
            for log_time, publish_time, value in zip(log_times, publish_times, values, strict=True):
                if value is None:
                    bad += 1
                else:
                    table.add(int(log_time), int(publish_time), value)
        if bad:
            failed[table.topic] = failed.get(table.topic, 0) + bad
        return bad


class _TensorRows(_BulkRows):
    """A ``simrec.Tensor`` topic (`decode_tensors`): one ``data`` column."""

    def _bulk(self, rows: np.ndarray) -> dict[str, np.ndarray] | None:
        data = decode_tensors(rows)
        return None if data is None else {"data": data}

    def _one(self, payload: memoryview) -> Any:
        return np.array(decode_tensor(payload))

    def _row(self, columns: dict[str, np.ndarray], i: int) -> Any:
        return columns["data"][i, ...]


class _StateRows(_BulkRows):
    """A ``simrec.StateBatch`` topic (`decode_state_batches`), in bulk for batches of up to
    ``BULK_STATE_BYTES`` (bigger ones cost one copy each either way, and bulk would add one)."""

    def _bulk(self, rows: np.ndarray) -> dict[str, np.ndarray] | None:
        if rows.shape[1] > BULK_STATE_BYTES:
            return None
        decoded = decode_state_batches(rows)
        if decoded is None:
            return None
        scalars, tensors = decoded
        return {**scalars, **{"tensors." + name: array for name, array in tensors.items()}}

    def _one(self, payload: memoryview) -> Any:
        try:
            view = decode_state_batch(payload)
        except Exception as exc:  # as the per-message decode: the file's problem, not a crash
            raise ValueError(str(exc)) from None
        return StateBatchView(
            view.step, view.sim_time, view.num_envs, {k: np.array(v) for k, v in view.tensors.items()}
        )

    def _row(self, columns: dict[str, np.ndarray], i: int) -> Any:
        tensors = {
            k.removeprefix("tensors."): v[i, ...] for k, v in columns.items() if k.startswith("tensors.")
        }
        return StateBatchView(
            int(columns["step"][i]), float(columns["sim_time"][i]), int(columns["num_envs"][i]), tensors
        )


def _times(values: list[int] | np.ndarray) -> np.ndarray:
    """Nanosecond times as int64, or uint64 where a log holds times past 2**63 (valid MCAP)."""
    if isinstance(values, np.ndarray):
        if values.dtype == np.uint64 and len(values) and values.max() >= 1 << 63:
            return values
        return values.astype(np.int64)
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
    """Tables for ``topics`` (default: every non-image topic) between ``start`` and ``end`` s;
    an image topic's table holds its frames decoded to pixels (``data``, see ``pixels``)."""
    names = reader.resolve_topics(topics) if topics is not None else reader.numeric_topics
    tables = {
        t: TopicTable(t, reader.topics[t].type_name, reader.topics[t].count, allow_object) for t in names
    }
    kinds = {TENSOR_TYPE: _TensorRows, STATE_TYPE: _StateRows}
    bulk: dict[str, _BulkRows | FrameRows] = {
        t: kinds[reader.topics[t].type_name]() for t in names if reader.topics[t].type_name in kinds
    }
    frames = {t: FrameRows(tables[t]) for t in names if t in reader.image_topics}
    bulk.update(frames)
    count = 0
    unflattened: dict[str, int] = {}
    undecoded: dict[str, int] = {}
    decoders: dict[int, Decoder | None] = {}
    for batch in reader.iter_batches(names, start, end, progress=progress):
        ids = np.unique(batch.channel)
        for cid in ids.tolist():
            which = np.flatnonzero(batch.channel == cid) if len(ids) > 1 else np.arange(len(batch))
            channel = reader.channel(cid)
            topic = channel.topic
            decode = decoders.get(cid, _UNSET)
            if decode is _UNSET:
                decode = decoders[cid] = reader.decoder(channel)
            if decode is None:  # not protobuf: said once in the reader's problems
                undecoded[topic] = undecoded.get(topic, 0) + len(which)
                continue
            rows = bulk.get(topic)
            if rows is not None:
                rows.add(batch, which)
                count += len(which)
                continue
            table = tables[topic]
            for i in which.tolist():
                try:
                    message = decode(batch.payload(i))
                except Exception:  # a malformed payload is the file's problem, not a crash
                    undecoded[topic] = undecoded.get(topic, 0) + 1
                    continue
                try:
                    table.add(int(batch.log_time[i]), int(batch.publish_time[i]), message)
                except ValueError:
                    unflattened[topic] = unflattened.get(topic, 0) + 1
                    continue
                count += 1
    for topic, rows in bulk.items():
        if isinstance(rows, FrameRows):
            bad = rows.finish()
            if bad:
                undecoded[topic] = undecoded.get(topic, 0) + bad
            count -= bad
        else:  # a StateBatch that does not decode is said as the per-message decode says it
            count -= rows.into(tables[topic], undecoded if isinstance(rows, _StateRows) else unflattened)
    reader.problems += [  # as ``iter_decoded`` says them (the CLI prints the reader's problems)
        f"{n} message(s) on {topic} could not be decoded and were skipped" for topic, n in undecoded.items()
    ]
    problems = list(reader.problems)
    problems += [
        f"{n} message(s) on {topic} do not fit their schema (is it damaged?) and were skipped"
        for topic, n in unflattened.items()
    ]
    return Collection(tables, problems, count)
