"""MCAP -> Parquet: one table per topic, in one output directory ``run.parquet/``.

Why a directory of files rather than one file: topics have different rows and columns, and
Parquet holds one schema per file. ``run.parquet/<name>.parquet`` holds topic ``/a/b`` under
the name ``a.b`` (the topic itself is in the file's schema metadata, key ``simrec.topic``);
every engine reads each file on its own (``pyarrow.parquet.read_table``, ``polars.read_parquet``,
DuckDB ``read_parquet``).

Columns are the NPZ's arrays of the topic (``fields`` names them): ``log_time`` and
``publish_time`` as int64 ns, scalars as plain columns, a field of shape ``[T, a, b]`` as a
fixed-size list of fixed-size lists (``a`` lists of ``b`` values), and ``episode_index`` where
the topic carries episode ends. Fields that make no numeric array are left out (as in NPZ) and
listed in the metadata. The directory is written under a temporary name and renamed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConvertError
from .npz import NpzOptions, build_arrays
from .output import check_directory
from .reader import LogReader

TOPIC_KEY = b"simrec.topic"
META_KEY = b"simrec.meta"


@dataclass(frozen=True)
class ParquetOptions:
    """What to convert (the ``simrec convert ... -o run.parquet`` options)."""

    topics: tuple[str, ...] | None = None
    start: float | None = None
    end: float | None = None
    compression: str = "zstd"


@dataclass
class ParquetResult:
    """The files written (topic -> path), the rows per topic and the conversion's metadata."""

    files: dict[str, Path]
    rows: dict[str, int]
    meta: dict = field(default_factory=dict)


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ConvertError(
            "Parquet output needs pyarrow: pip install 'simrec[parquet]' (or pip install pyarrow)"
        ) from None
    return pa, pq


def file_name(topic: str) -> str:
    """The file of a topic in the output directory: ``/sim/state`` -> ``sim.state.parquet``."""
    name = topic.strip("/").replace("/", ".") or "root"
    return f"{name}.parquet"


def column(array: np.ndarray) -> Any:
    """A pyarrow array for ``array`` [T, ...]: nested fixed-size lists for the trailing dims."""
    pa, _ = _pyarrow()
    array = np.ascontiguousarray(array)
    values = pa.array(array.reshape(-1))
    for size in reversed(array.shape[1:]):
        values = pa.FixedSizeListArray.from_arrays(values, size)
    return values


def topic_table(topic: str, arrays: dict[str, np.ndarray], meta: dict | None = None) -> Any:
    """One topic's arrays as a ``pyarrow.Table`` (object columns are left out)."""
    pa, _ = _pyarrow()
    names, columns = [], []
    for key, value in arrays.items():
        if value.dtype == object:
            continue
        names.append(key)
        columns.append(column(value))
    schema_meta = {TOPIC_KEY: topic.encode()}
    if meta is not None:
        schema_meta[META_KEY] = json.dumps(meta).encode()
    return pa.table(columns, names=names).replace_schema_metadata(schema_meta)


def _per_topic(arrays: dict[str, np.ndarray], topics: list[str]) -> dict[str, dict[str, np.ndarray]]:
    out: dict[str, dict[str, np.ndarray]] = {t: {} for t in topics}
    for topic in sorted(topics, key=len, reverse=True):  # /a/b before /a
        head = topic + "/"
        for key in [k for k in arrays if k.startswith(head)]:
            out[topic][key[len(head) :]] = arrays.pop(key)
    return out


def check_parquet_output(path: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """The output directory, checked before any work: nothing else is ever replaced."""
    target = Path(path)
    if target.exists():
        if not target.is_dir():
            raise ConvertError(f"{target} exists and is not a Parquet output directory: choose another name")
        if not overwrite:
            raise ConvertError(f"{target} already exists: choose another name or pass --overwrite")
        strays = [p.name for p in target.iterdir() if not p.name.endswith(".parquet")]
        if strays:
            raise ConvertError(
                f"{target} holds other files ({', '.join(sorted(strays)[:3])}): "
                "--overwrite replaces only a Parquet output directory"
            )
    check_directory(target.parent if str(target.parent) else Path("."), for_file=target)
    return target


def convert_to_parquet(
    reader: LogReader,
    output: str | os.PathLike[str],
    options: ParquetOptions = ParquetOptions(),
    *,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ParquetResult:
    """Convert a log to a directory of one Parquet file per topic; see the module docstring."""
    _, pq = _pyarrow()
    target = check_parquet_output(output, overwrite=overwrite)
    npz = build_arrays(
        reader, NpzOptions(topics=options.topics, start=options.start, end=options.end), progress
    )
    topics = list(npz.meta["topics"])
    per_topic = _per_topic(dict(npz.arrays), topics)
    names = {t: file_name(t) for t in topics}
    clash = len(set(names.values())) < len(names)
    if clash:
        names = {t: f"{i:03d}.{file_name(t)}" for i, t in enumerate(topics)}
    temp = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        temp.mkdir()
    except OSError as exc:
        raise ConvertError(f"cannot create {target}: {exc.strerror or exc}") from None
    rows: dict[str, int] = {}
    try:
        for topic, arrays in per_topic.items():
            table = topic_table(topic, arrays, npz.meta)
            pq.write_table(table, temp / names[topic], compression=options.compression)
            rows[topic] = table.num_rows
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        if target.exists():
            os.replace(target, old)  # aside, not deleted, until the new directory is in place
        os.replace(temp, target)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise ConvertError(f"writing {target} failed: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(temp)
    return ParquetResult({t: target / names[t] for t in topics}, rows, npz.meta)
