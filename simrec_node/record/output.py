"""Where a recording goes: default names, no silent overwrites, early checks."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .mcap_writer import McapWriter


class OutputError(Exception):
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


def open_writer(path: Path, **options: object) -> McapWriter:
    """Open the MCAP file; an OS refusal (no such directory, read-only file system, ...) becomes
    an ``OutputError`` the CLI prints as one line. ``prepare_output`` checks early; this is the
    check that cannot be fooled."""
    try:
        return McapWriter(path, **options)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
