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
    decode_state_batch,
    decode_state_batches,
    decode_tensor,
    decode_tensors,
)

from .columns import Column
from .decoders import Decoder
from .fields import STATE_BATCH_KINDS, Kind, flatten
from .pixels import FrameRows
from .reader import LogReader

TENSOR_TYPE = "simrec.Tensor"
STATE_TYPE = "simrec.StateBatch"
BULK_STATE_BYTES = 64 << 10
_UNSET = object()


class TopicTable:
    """The messages of one topic as columns; row ``i`` is the ``i``-th message in log-time order.

    Rows arrive one message at a time (``add``) or a chunk's block at a time (``add_block``);
    either way each value is copied once, into its column's preallocated buffer (`Column`), so
    no decoded chunk stays alive and no second copy is made when the table is finished."""

    def __init__(self, topic: str, type_name: str, capacity: int, allow_object: bool) -> None:
        self.topic = topic
        self.type_name = type_name
        self.capacity = capacity
        self.allow_object = allow_object
        self.rows = 0
        self.columns: dict[str, Column] = {}
        self._time_blocks: list[tuple[np.ndarray, np.ndarray]] = []  # (log_time, publish_time)
        self._log_time: list[int] = []  # rows added one by one since the last block
        self._publish_time: list[int] = []

    def add(self, log_time: int, publish_time: int, message: Any) -> None:
        """One row; ValueError (the row not added) for a message whose schema cannot be walked
        (a damaged schema record: they carry no CRC outside chunks)."""
        values: dict[str, Any] = {}
        kinds: dict[str, Kind] = {}
        try:
            flatten(message, values, kinds)
        except (KeyError, AttributeError, TypeError) as exc:
            raise ValueError(f"{type(exc).__name__}: {exc}") from None
        row = self.rows
        self._log_time.append(log_time)
        self._publish_time.append(publish_time)
        self.rows += 1
        columns = self.columns
        for key, value in values.items():
            column = columns.get(key)
            if column is None:
                column = columns[key] = Column(key, kinds.get(key), value, self.capacity, self.allow_object)
            column.append(row, value)

    def place(self, log_time: int, publish_time: int, key: str, at: int) -> None:
        """One row whose only value, field ``key``, was written in place at its column's buffer
        row ``at`` (``Column.slot``)."""
        self._log_time.append(log_time)
        self._publish_time.append(publish_time)
        self.columns[key].place(self.rows, at)
        self.rows += 1

    def add_block(
        self,
        log_time: np.ndarray,
        publish_time: np.ndarray,
        columns: dict[str, np.ndarray],
        kinds: dict[str, Kind] | None = None,
    ) -> None:
        """``len(log_time)`` rows at once, decoded in bulk: ``columns`` holds each field's values
        as one array, first axis the rows (``kinds``: dtypes of scalar fields, as ``flatten``)."""
        self._end_loose_rows()
        row = self.rows
        self._time_blocks.append((log_time, publish_time))
        self.rows += len(log_time)
        for key, block in columns.items():
            column = self.columns.get(key)
            if column is None:
                kind = (kinds or {}).get(key)
                column = self.columns[key] = Column(key, kind, block[0], self.capacity, self.allow_object)
            column.extend(row, block)

    def _end_loose_rows(self) -> None:
        if self._log_time:
            self._time_blocks.append(
                (np.array(self._log_time, dtype=np.uint64), np.array(self._publish_time, dtype=np.uint64))
            )
            self._log_time, self._publish_time = [], []

    def finish(self) -> tuple[dict[str, np.ndarray], dict[str, str], dict[str, str]]:
        """(arrays by field path incl. ``log_time``/``publish_time``, skipped reasons, notes)."""
        self._end_loose_rows()
        rows = self.rows
        blocks = self._time_blocks
        log_time = _times(np.concatenate([t for t, _ in blocks]) if blocks else np.zeros(0, np.uint64))
        publish_time = _times(np.concatenate([p for _, p in blocks]) if blocks else np.zeros(0, np.uint64))
        arrays: dict[str, np.ndarray] = {"log_time": log_time, "publish_time": publish_time}
        skipped: dict[str, str] = {}
        notes: dict[str, str] = {}
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
    at a time as views of the chunk; either way copied once, into the table's columns."""

    kinds: dict[str, Kind] | None = None
    most_bytes: int | None = None  # payloads longer than this are not decoded in bulk

    def __init__(self, table: TopicTable) -> None:
        self.table = table
        self.failed = 0  # messages that did not decode

    def _bulk(self, rows: np.ndarray) -> dict[str, np.ndarray] | None:
        raise NotImplementedError

    def _one(self, payload: memoryview) -> Any:
        """One message decoded (views of the chunk are fine: the table copies); ValueError if
        it does not decode."""
        raise NotImplementedError

    def add(self, batch: Batch, which: np.ndarray) -> None:
        columns = self._bulk_by_length(batch, which)
        if columns is not None:
            self.table.add_block(batch.log_time[which], batch.publish_time[which], columns, self.kinds)
            return
        table = self.table
        for i in which.tolist():
            try:
                message = self._one(batch.payload(i))
            except ValueError:
                self.failed += 1
                continue
            table.add(int(batch.log_time[i]), int(batch.publish_time[i]), message)

    def _bulk_by_length(self, batch: Batch, which: np.ndarray) -> dict[str, np.ndarray] | None:
        """The chunk's rows decoded in bulk, one group per payload length (a step counter that
        grows a varint byte changes the length), put back in record order; None unless every
        group decodes to the same fields, dtypes and shapes."""
        lengths = batch.end[which] - batch.start[which]
        if self.most_bytes is not None and len(lengths) and lengths.max() > self.most_bytes:
            return None
        sizes = _distinct(lengths)
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


class _TensorRows(_BulkRows):
    """A ``simrec.Tensor`` topic (`decode_tensors`): one ``data`` column."""

    def _bulk(self, rows: np.ndarray) -> dict[str, np.ndarray] | None:
        data = decode_tensors(rows)
        return None if data is None else {"data": data}

    def _one(self, payload: memoryview) -> Any:
        return decode_tensor(payload)


class _StateRows(_BulkRows):
    """A ``simrec.StateBatch`` topic (`decode_state_batches`), in bulk for batches of up to
    ``BULK_STATE_BYTES`` (a bigger one is copied once from the chunk either way, and bulk would
    add a copy)."""

    kinds = STATE_BATCH_KINDS
    most_bytes = BULK_STATE_BYTES

    def _bulk(self, rows: np.ndarray) -> dict[str, np.ndarray] | None:
        decoded = decode_state_batches(rows)
        if decoded is None:
            return None
        scalars, tensors = decoded
        return {**scalars, **{"tensors." + name: array for name, array in tensors.items()}}

    def _one(self, payload: memoryview) -> Any:
        try:
            return decode_state_batch(payload)
        except Exception as exc:  # as the per-message decode: the file's problem, not a crash
            raise ValueError(str(exc)) from None


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values of small non-negative integers (channel ids, payload lengths), sorted:
    ``np.unique`` less its first call's import of ``numpy.ma`` (8 ms of reading a small log) and
    its sort (0.5 ms for a chunk of 25,000 messages)."""
    if not len(values) or (values == values[0]).all():
        return values[:1]
    low, high = int(values.min()), int(values.max())
    if high - low < 1 << 16:
        return np.flatnonzero(np.bincount(values - low)) + low
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


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
        t: kinds[reader.topics[t].type_name](tables[t]) for t in names if reader.topics[t].type_name in kinds
    }
    frames = {t: FrameRows(tables[t]) for t in names if t in reader.image_topics}
    bulk.update(frames)
    count = 0
    unflattened: dict[str, int] = {}
    undecoded: dict[str, int] = {}
    decoders: dict[int, Decoder | None] = {}
    for batch in reader.iter_batches(names, start, end, progress=progress):
        ids = _distinct(batch.channel)
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
        bad = rows.finish() if isinstance(rows, FrameRows) else rows.failed
        if bad:  # a StateBatch that does not decode is said as the per-message decode says it
            said = unflattened if isinstance(rows, _TensorRows) else undecoded
            said[topic] = said.get(topic, 0) + bad
        count -= bad
    reader.problems += [  # as ``iter_decoded`` says them (the CLI prints the reader's problems)
        f"{n} message(s) on {topic} could not be decoded and were skipped" for topic, n in undecoded.items()
    ]
    problems = list(reader.problems)
    problems += [
        f"{n} message(s) on {topic} do not fit their schema (is it damaged?) and were skipped"
        for topic, n in unflattened.items()
    ]
    return Collection(tables, problems, count)
