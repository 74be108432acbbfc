"""Which recordings a log argument names: a directory may hold the parts of one split recording,
or separate runs side by side (``runs/a.mcap``, ``runs/b.mcap``).

``Log`` reads a directory as one log either way (its files one after another in time). Where
recordings must stay apart, as in a LeRobot dataset whose frames are sampled on each log's sim
time (two runs that both start at sim time 0, read as one log, interleave), ``recordings``
splits such a directory into its files; ``each_recording`` does it for an argument naming many
logs (the LeRobot export, ``convert --ray``, the torch datasets).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from simrec_node.mcap import metadata as names

from .file import LogFile
from .files import LogSpec, resolve, split_numbers


def recordings(spec: LogSpec) -> list[LogSpec]:
    """``spec`` as the separate recordings it names, each one log: ``[spec]`` for a file, a list
    of files, or a directory holding the parts of one recording; each ``.mcap`` file of a
    directory that holds separate recordings (``one_recording``)."""
    if not isinstance(spec, str | os.PathLike) or not os.path.isdir(spec):
        return [spec]
    _, paths = resolve([os.fspath(spec)])
    return [spec] if one_recording(paths) else [str(path) for path in paths]


def each_recording(specs: LogSpec | Iterable[LogSpec]) -> list[LogSpec]:
    """The logs of an argument that names one log or several (a path, or an iterable of them), a
    folder of separate runs as its files (``recordings``): what takes many logs reads these."""
    given = [specs] if isinstance(specs, str | os.PathLike) else list(specs)
    return [log for spec in given for log in recordings(spec)]


def one_recording(paths: list[Path]) -> bool:
    """Whether ``paths`` are the parts of one recording (see ``same_recording``)."""
    if len(paths) <= 1:
        return True
    marks = []
    for path in paths:
        with LogFile(path) as file:
            marks.append(_marks(file))
    return _one(marks, paths)


def same_recording(files: list[LogFile]) -> bool:
    """Whether open ``files`` are the parts of one recording: simrec's split files (each says so
    in its ``simrec.split`` record, all with one name and one ``simrec.recording`` record), or
    files of another tool with neither record, named as a split recording's (``run_0.mcap``,
    ``run_1.mcap``)."""
    return len(files) <= 1 or _one([_marks(file) for file in files], [file.path for file in files])


def _marks(file: LogFile) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    return file.metadata(names.SPLIT), file.metadata(names.RECORDING)


def _one(marks: list[tuple[dict[str, str] | None, dict[str, str] | None]], paths: list[Path]) -> bool:
    if all(split is not None for split, _ in marks):
        return (
            len({(split or {}).get("name") for split, _ in marks}) == 1
            and len({tuple(sorted((recording or {}).items())) for _, recording in marks}) == 1
        )
    if all(split is None and recording is None for split, recording in marks):
        return split_numbers(paths) is not None
    return False
