"""Which files a log is: one file, a directory of split files (``run/run_0.mcap``, ...) or several
files named on the command line, and the order they are played in."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from .errors import LogFileError

LogSpec = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]

# ``<name>_<N>.mcap``: the names a split recording gets (index without padding, like rosbag2).
_SPLIT_NAME = re.compile(r"^(?P<prefix>.+)_(?P<index>\d+)\.mcap$", re.IGNORECASE)
_NAMES_SHOWN = 3


def as_list(spec: LogSpec) -> list[str]:
    if isinstance(spec, str | os.PathLike):
        return [os.fspath(spec)]
    names = [os.fspath(item) for item in spec]
    if not names:
        raise LogFileError("no log given: pass an .mcap file, a directory of split files, or several files")
    return names


def resolve(names: list[str]) -> tuple[str, list[Path]]:
    """Validate the arguments; the display name and the files (directory entries sorted by name)."""
    for name in names:
        if not os.path.exists(name):
            raise LogFileError(f"no such file: {name}")
    directories = [name for name in names if os.path.isdir(name)]
    if directories and len(names) > 1:
        raise LogFileError(
            f"{directories[0]} is a directory: pass one directory of split files, or .mcap files, not both"
        )
    if directories:
        directory = directories[0]
        files = sorted(
            (entry for entry in Path(directory).iterdir() if _is_mcap(entry)), key=lambda p: p.name
        )
        if not files:
            raise LogFileError(
                f"{directory} is a directory with no .mcap files in it; pass a recording's directory "
                "or its .mcap files"
            )
        return directory, files
    seen: dict[tuple[int, int], str] = {}
    for name in names:
        st = os.stat(name)
        first = seen.get((st.st_dev, st.st_ino))
        if first is not None:
            again = f" (as {first} and {name})" if first != name else ""
            raise LogFileError(f"{name} is given twice{again}; pass each file once")
        seen[(st.st_dev, st.st_ino)] = name
    shown = names if len(names) <= _NAMES_SHOWN else [names[0], "...", names[-1]]
    more = f" ({len(names)} files)" if len(names) > _NAMES_SHOWN else ""
    return ", ".join(shown) + more, [Path(name) for name in names]


def _is_mcap(entry: Path) -> bool:
    return entry.suffix.lower() == ".mcap" and not entry.name.startswith(".") and entry.is_file()


def split_numbers(files: list[Path]) -> list[int] | None:
    """Each file's ``<N>`` where all are named as one split recording's files (``<name>_<N>.mcap``,
    one ``<name>``, no ``N`` twice); else None."""
    matches = [_SPLIT_NAME.match(path.name) for path in files]
    if not all(matches):
        return None
    numbers = [int(m["index"]) for m in matches]  # type: ignore[index]
    if len({m["prefix"] for m in matches}) != 1 or len(set(numbers)) != len(numbers):  # type: ignore[index]
        return None
    return numbers


def play_order(files: list[Path], starts: list[int | None]) -> list[int]:
    """Indexes of ``files`` in playing order: by the ``_<N>`` suffix when they are named as one
    split recording's files, else by first message time (files without messages last)."""
    numbers = split_numbers(files)
    if numbers is not None:
        return sorted(range(len(files)), key=numbers.__getitem__)
    return sorted(range(len(files)), key=lambda i: (starts[i] is None, starts[i] or 0, i))
