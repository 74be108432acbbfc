"""Many logs converted as Ray tasks (``simrec convert LOG... --ray -o DIR``): one task per log.

Each task runs the same converter as ``simrec convert LOG -o OUT`` on one log and writes
``DIR/<log name><suffix>`` under a temporary name, renamed when complete; the results are the
serial run's, file for file. Ray schedules the tasks (a local Ray on loopback by default, or a
cluster's, where every node sees the logs and ``DIR`` and has simrec installed).

``CONVERTERS`` maps a format to its per-log function ``(log, output, options, overwrite) -> a
line``; a format is one entry there. LeRobot's export makes one dataset of many logs, so it has
its own task and merge (``ray_lerobot``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simrec_node.convert import convert_to_npz, convert_to_parquet, open_log
from simrec_node.convert.output import check_output, create_directory
from simrec_node.convert.parquet import check_parquet_output
from simrec_node.errors import SimrecError
from simrec_node.logs import each_recording

from .errors import DatasetError
from .ray_local import ray_session

PathLike = str | os.PathLike[str]


def _parquet(log: str, output: Path, options: Any, overwrite: bool) -> str:
    with open_log(log) as reader:
        result = convert_to_parquet(reader, output, options, overwrite=overwrite)
    return f"{len(result.files)} tables, {sum(result.rows.values()):,} rows"


def _npz(log: str, output: Path, options: Any, overwrite: bool) -> str:
    with open_log(log) as reader:
        result = convert_to_npz(reader, output, options, overwrite=overwrite)
    return f"{len(result.arrays)} arrays from {result.meta['messages']:,} messages"


@dataclass(frozen=True)
class Converter:
    """One output format: the suffix of its per-log output, its up-front check, and the work."""

    suffix: str
    check: Callable[..., Path]
    run: Callable[[str, Path, Any, bool], str]


CONVERTERS: dict[str, Converter] = {
    "parquet": Converter(".parquet", check_parquet_output, _parquet),
    "npz": Converter(".npz", check_output, _npz),
}


@dataclass(frozen=True)
class ConvertedLog:
    """One log's conversion: where it went and a one-line summary."""

    log: str
    output: Path
    summary: str


def output_for(log: PathLike, directory: PathLike, suffix: str) -> Path:
    """``DIR/<name><suffix>``: a file's stem, or a split recording directory's name."""
    path = Path(log)
    name = path.name if path.is_dir() else path.stem
    return Path(directory) / f"{name}{suffix}"


def convert_one(fmt: str, log: str, output: Path, options: Any, overwrite: bool) -> ConvertedLog:
    """One log to one output: the task ``convert_many`` runs (also alone, in any process)."""
    return ConvertedLog(log, output, CONVERTERS[fmt].run(log, output, options, overwrite))


def plan(
    logs: Sequence[PathLike], directory: PathLike, fmt: str, options: Any = None, *, overwrite: bool
) -> list[tuple[str, Path]]:
    """(log, output) pairs, checked before any work: each log opens and has the topics asked
    for, and the outputs are distinct and not in the way."""
    if fmt not in CONVERTERS:
        raise DatasetError(f"--ray converts to {', '.join(CONVERTERS)}, not {fmt}")
    logs = each_recording(logs)  # a folder of runs: each run its own log
    if not logs:
        raise DatasetError("no log to convert")
    converter = CONVERTERS[fmt]
    topics = getattr(options, "topics", None)
    for log in logs:
        with open_log(log) as reader:  # the summary only: a missing or damaged log is one line now
            if topics:
                reader.resolve_topics(list(topics))
    create_directory(Path(directory))
    pairs = [(os.fspath(log), output_for(log, directory, converter.suffix)) for log in logs]
    seen: dict[Path, str] = {}
    for log, output in pairs:
        if output in seen:
            raise DatasetError(
                f"{seen[output]} and {log} would both write {output}: rename one, or convert them apart"
            )
        seen[output] = log
        converter.check(output, overwrite=overwrite)
    return pairs


def convert_many(
    logs: Sequence[PathLike],
    directory: PathLike,
    fmt: str,
    options: Any,
    *,
    overwrite: bool = False,
    address: str | None = None,
    num_cpus: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[ConvertedLog]:
    """Convert each log to ``directory`` as one Ray task (see the module docstring), in order.

    A log that fails leaves no output of its own; the others finish, then one ``DatasetError``
    names the failures."""
    pairs = plan(logs, directory, fmt, options, overwrite=overwrite)
    calls = [(fmt, log, output, options, overwrite) for log, output in pairs]
    with ray_session(address, num_cpus=num_cpus) as ray:
        return run_tasks(ray, convert_one, calls, [log for log, _ in pairs], progress)


def run_tasks(
    ray: Any,
    function: Callable[..., Any],
    calls: Sequence[tuple],
    names: Sequence[str],
    progress: Callable[[int, int], None] | None = None,
) -> list[Any]:
    """``function(*call)`` for each call as one Ray task; the results in the calls' order.

    Every task runs to its end; then one ``DatasetError`` names the failures (each by its name in
    ``names``, with the first line of a ``SimrecError``'s message), or the results come back."""
    task = ray.remote(function)
    refs = [task.remote(*call) for call in calls]
    name_of = dict(zip(refs, names, strict=True))
    results: dict[Any, Any] = {}
    failed: list[str] = []
    waiting = list(refs)
    while waiting:
        ready, waiting = ray.wait(waiting, num_returns=1)
        try:
            results[ready[0]] = ray.get(ready[0])
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, SimrecError) else exc
            failed.append(f"{name_of[ready[0]]}: {str(cause).splitlines()[0]}")
        if progress is not None:
            progress(len(refs) - len(waiting), len(refs))
    if failed:
        raise DatasetError(f"{len(failed)} of {len(refs)} logs failed; {failed[0]}")
    return [results[ref] for ref in refs]
