"""One output column: the values of one field path over a topic's messages, time first.

Arrays are copied into one preallocated buffer per column (grown by doubling when a log holds
more than expected), so memory follows the output, and no decoded chunk buffer stays alive.
A column that cannot become one numeric array (ragged shapes, strings, ...) becomes an object
array when allowed, or is dropped with the reason kept for the summary.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from simrec_node.logs.buffers import empty_bytes

from .fields import Kind

_START_BYTES = 64 << 20  # a column's first allocation when the summary's count cannot be taken


def _most_bytes() -> int:
    """What a column may reserve up front on the summary's word: a quarter of the machine's
    memory (address space: numpy's pages are only touched as rows arrive)."""
    try:
        return max(_START_BYTES, os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4)
    except (OSError, ValueError, AttributeError):
        return _START_BYTES


_MOST_BYTES = _most_bytes()


def empty_rows(rows: int, row_shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised ``[rows, *row_shape]`` array whose pages come as rows are written (a large
    one in ordinary pages: see ``logs.buffers.empty_bytes``)."""
    dtype = np.dtype(dtype)
    nbytes = rows * int(np.prod(row_shape, dtype=np.int64)) * dtype.itemsize
    return empty_bytes(nbytes).view(dtype).reshape(rows, *row_shape)


class Column:
    """Accumulates one field's values; ``finish(rows)`` returns ``(array | None, note)``."""

    __slots__ = (
        "_buf",
        "_values",
        "allow_object",
        "count",
        "dtype",
        "key",
        "mode",
        "reason",
        "row_shape",
        "rows",
    )

    def __init__(self, key: str, kind: Kind | None, first: Any, capacity: int, allow_object: bool) -> None:
        self.key = key
        self.allow_object = allow_object
        self.count = 0
        self.rows: list[int] | None = None  # row numbers, kept only once a row has been missed
        self.reason = ""
        self._values: list[Any] = []
        self._buf: np.ndarray | None = None
        self.row_shape: tuple[int, ...] = ()
        self.dtype: np.dtype | None = None
        if isinstance(kind, str):
            self.mode = "object" if allow_object else "skip"
            self.reason = kind
        elif isinstance(first, np.ndarray):
            self.mode = "array"
            self.row_shape, self.dtype = first.shape, first.dtype
            # ``capacity`` is what the summary claims, unchecked: reserve it when it fits in
            # _MOST_BYTES (an honest count: every row lands in place, no regrowth copies), else
            # start at _START_BYTES and grow by doubling, so a lying count cannot size it.
            fits = max(capacity, 1) * first.nbytes <= _MOST_BYTES
            most = max(1, (_MOST_BYTES if fits else _START_BYTES) // max(1, first.nbytes))
            self._buf = empty_rows(min(max(capacity, 1), most), first.shape, first.dtype)
        else:
            self.mode = "scalar"
            self.dtype = kind if kind is not None else np.asarray(first).dtype

    def append(self, row: int, value: Any) -> None:
        """Row ``row``'s value, copied (a view of a decoded chunk is fine)."""
        self._number(row, 1)
        mode = self.mode
        if mode == "array":
            if value.shape != self.row_shape or value.dtype != self.dtype:
                self._irregular(row, value)
                return
            self._reserve(self.count + 1)[self.count] = value
        elif mode != "skip":  # scalar or object: an array is kept owned, not as a view of a chunk
            self._values.append(np.array(value) if isinstance(value, np.ndarray) else value)
        self.count += 1

    def extend(self, row: int, block: np.ndarray) -> None:
        """Rows ``row, row + 1, ...``: one value per entry of ``block``'s first axis, copied in
        one go where they fit the column (else one by one, as ``append`` takes them)."""
        n = len(block)
        fits = self.mode == "array" and block.shape[1:] == self.row_shape and block.dtype == self.dtype
        if not fits and self.mode != "scalar":
            for i in range(n):
                self.append(row + i, block[i])
            return
        self._number(row, n)
        if fits:
            self._reserve(self.count + n)[self.count : self.count + n] = block
        else:
            self._values.extend(block.tolist())
        self.count += n

    def slot(self, at: int, grow: bool = False) -> np.ndarray | None:
        """Row ``at`` of the buffer, for a value to be written there in place (then ``place``):
        None unless the column holds one array per row and has room (``grow``: make room, which
        moves the buffer, so only while no value is being written into it)."""
        if self.mode != "array":
            return None
        if at >= len(self._buf):
            if not grow:
                return None
            self._reserve(at + 1)
        return self._buf[at]

    def place(self, row: int, at: int) -> None:
        """Row ``row``'s value is in buffer row ``at`` (a ``slot`` at or past ``count``), written
        there in place: moved down to ``count`` when rows before it were not filled."""
        self._number(row, 1)
        if at != self.count:
            self._buf[self.count] = self._buf[at]
        self.count += 1

    def _number(self, row: int, n: int) -> None:
        """The next ``n`` values are rows ``row, row + 1, ...``: row numbers are kept only once a
        row has been missed (a message without this field)."""
        if self.rows is None and row != self.count:
            self.rows = list(range(self.count))
        if self.rows is not None:
            self.rows.extend(range(row, row + n))

    def _reserve(self, rows: int) -> np.ndarray:
        """The buffer, grown (doubling) to hold at least ``rows`` rows."""
        buf = self._buf
        if rows > len(buf):
            grown = empty_rows(max(rows, 2 * len(buf)), self.row_shape, self.dtype)
            grown[: self.count] = buf[: self.count]
            self._buf = buf = grown
        return buf

    def _irregular(self, row: int, value: Any) -> None:
        what = (
            f"shape {value.shape} at message {row} differs from {self.row_shape}"
            if value.shape != self.row_shape
            else f"dtype {value.dtype} at message {row} differs from {self.dtype}"
        )
        if self.allow_object:
            self._values = [*np.array(self._buf[: self.count]), np.array(value)]
            self.mode, self.reason = "object", f"ragged ({what})"
        else:
            self.mode, self.reason = "skip", f"ragged: {what}"
        self._buf = None
        self.count += 1

    def finish(self, rows: int) -> tuple[np.ndarray | None, str]:
        """The column as an array of ``rows`` rows, and a note (the skip reason when None)."""
        if self.mode == "skip":
            return None, self.reason
        if self.mode == "array":
            data = self._buf[: self.count]
        elif self.mode == "scalar":
            data = np.array(self._values, dtype=self.dtype)
        else:
            data = object_array(self._values)
        note = f"stored as objects: {self.reason}" if self.mode == "object" else ""
        if self.count == rows and self.rows is None:
            return data, note
        return self._fill(data, rows, note)

    def _fill(self, data: np.ndarray, rows: int, note: str) -> tuple[np.ndarray | None, str]:
        where = np.asarray(self.rows if self.rows is not None else range(self.count), dtype=np.int64)
        missing = f"present in {self.count} of {rows} messages"
        if data.dtype.kind == "f":
            full = np.full((rows, *data.shape[1:]), np.nan, dtype=data.dtype)
        elif data.dtype == object:
            full = np.empty(rows, dtype=object)
        elif self.allow_object:
            full, data = np.empty(rows, dtype=object), object_array(list(data))
        else:
            return None, f"{missing}; only float fields are filled with NaN"
        full[where] = data
        return full, ", ".join(filter(None, [note, f"{missing}, the rest filled with NaN/None"]))


def object_array(values: list[Any]) -> np.ndarray:
    """A 1-D object array of ``values`` (element by element: numpy would merge equal-shaped arrays)."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out
