"""Where a recording goes: default names, no silent overwrites, early checks."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from simrec_node.errors import SimrecError
from simrec_node.mcap.writer import McapWriter


class OutputError(SimrecError):
    """The output file cannot be written (exists, unwritable directory, ...)."""


def default_output_name(now: float | None = None) -> Path:
    """``simrec_2026_11_23-14_05_09.mcap`` in the current directory, as ``ros2 bag`` names bags."""
    return Path(time.strftime("simrec_%Y_%m_%d-%H_%M_%S.mcap", time.localtime(now)))


def prepare_output(path: str | os.PathLike | None, *, overwrite: bool = False) -> Path:
    """Resolve the output path and check, before recording starts, that it can be written."""
    target = Path(path) if path is not None else default_output_name()
    if target.is_dir():
        raise OutputError(f"{target} is a directory: give a file name such as {target / 'run.mcap'}")
    if target.suffix == "":
        target = target.with_suffix(".mcap")
    if target.exists() and not overwrite:
        raise OutputError(f"{target} already exists: choose another name or pass --overwrite")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"cannot write {target}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write {target}: directory {parent} is not writable")
    return target


@dataclass(frozen=True)
class OutputLayout:
    """One file, or a directory of numbered files (``run/run_0.mcap``, ``run/run_1.mcap``, ...)
    as ``ros2 bag`` lays out a split bag: each file is a complete MCAP log on its own."""

    path: Path
    split: bool = False

    @property
    def name(self) -> str:
        return self.path.name

    def file(self, index: int) -> Path:
        return self.path / f"{self.path.name}_{index}.mcap" if self.split else self.path


def prepare_split_output(path: str | os.PathLike | None, *, overwrite: bool = False) -> OutputLayout:
    """The directory a split (or snapshot) recording writes its numbered files into.

    ``run`` and ``run.mcap`` both mean the directory ``run``. An existing directory is used only
    if it holds no files of this recording's name, or with ``overwrite`` (which removes them).
    """
    target = Path(path) if path is not None else default_output_name().with_suffix("")
    if target.suffix == ".mcap":
        target = target.with_suffix("")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target} exists and is not a directory: a split recording writes a directory")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"cannot write {target}: directory {parent} does not exist")
    layout = OutputLayout(target, split=True)
    if target.is_dir():
        pattern = re.compile(rf"{re.escape(target.name)}_\d+\.mcap")
        old = [entry for entry in target.iterdir() if pattern.fullmatch(entry.name)]
        if old and not overwrite:
            raise OutputError(f"{target} already holds a recording: choose another name or pass --overwrite")
        for entry in old:
            entry.unlink()
    else:
        try:
            target.mkdir()
        except OSError as exc:
            raise OutputError(f"cannot create {target}: {exc.strerror or exc}") from None
    if not os.access(target, os.W_OK):
        raise OutputError(f"cannot write {target}: directory is not writable")
    return layout


def open_writer(path: Path, **options: object) -> McapWriter:
    """Open the MCAP file; an OS refusal (no such directory, read-only file system, ...) becomes
    an ``OutputError`` the CLI prints as one line. ``prepare_output`` checks early; this is the
    check that cannot be fooled."""
    try:
        return McapWriter(path, **options)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
