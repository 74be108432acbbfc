"""Output files: no silent overwrite, and never a half-written file under the final name."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from .errors import ConvertError


def check_output(path: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """The output path, after checking that it can be written (before any work is done)."""
    target = Path(path)
    if target.is_dir():
        raise ConvertError(f"{target} is a directory: give a file name such as {target / 'out.npz'}")
    if target.exists() and not overwrite:
        raise ConvertError(f"{target} already exists: choose another name or pass --overwrite")
    check_directory(target.parent if str(target.parent) else Path("."), for_file=target)
    return target


def check_directory(directory: Path, *, for_file: Path | None = None) -> None:
    what = f"cannot write {for_file}: directory {directory}" if for_file else f"output directory {directory}"
    if not directory.is_dir():
        raise ConvertError(f"{what} does not exist; create it first")
    if not os.access(directory, os.W_OK):
        raise ConvertError(f"{what} is not writable")


def create_directory(directory: Path) -> None:
    """An output directory (``-o videos/``), made with its parents where missing, as ``mkdir -p``."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConvertError(f"cannot create output directory {directory}: {exc.strerror or exc}") from None
    check_directory(directory)


@contextlib.contextmanager
def atomic_output(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` (same suffix, so tools pick the same format);
    rename it to ``target`` when the block succeeds, delete it when it fails.

    The temporary file is created here, so that a place the system refuses to write (``/proc``, a
    read-only mount) is one ``ConvertError`` line before any work, as is a write or rename that
    fails later (a full disk).
    """
    temp = target.with_name(f".{target.stem}.partial-{os.getpid()}{target.suffix}")
    try:
        open(temp, "wb").close()
    except OSError as exc:
        raise ConvertError(f"cannot create {target}: {exc.strerror or exc}") from None
    try:
        yield temp
        os.replace(temp, target)
    except OSError as exc:
        raise ConvertError(f"writing {target} failed: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


@contextlib.contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield a new temporary directory beside ``target``; when the block succeeds it takes
    ``target``'s place (an old ``target`` is moved aside, and deleted once the new one is in
    place), when it fails it is deleted. OS errors are one ``ConvertError`` line."""
    temp = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(temp, ignore_errors=True)
    try:
        temp.mkdir()
    except OSError as exc:
        raise ConvertError(f"cannot create {target}: {exc.strerror or exc}") from None
    try:
        yield temp
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        if target.exists():
            os.replace(target, old)
        os.replace(temp, target)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise ConvertError(f"writing {target} failed: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(temp, ignore_errors=True)
