"""Open an MCAP file for reading: clear one-line errors for bad input, then an mmap of it.

Only regular files are opened: a named pipe would block ``open`` until a writer came (every
command hung on one), and a directory or a device has no MCAP bytes to map.
"""

from __future__ import annotations

import mmap
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from simrec_node.errors import SimrecError

from .errors import McapFileError
from .records import FOOTER_BODY, FOOTER_SIZE, MAGIC, PREFIX, Opcode


@dataclass
class Footer:
    offset: int
    summary_start: int
    summary_offset_start: int
    summary_crc: int


def check_regular(name: str, error: type[SimrecError] = McapFileError) -> int:
    """The size of the regular file ``name``; ``error`` (one line) for anything else."""
    try:
        st = os.stat(name)
    except FileNotFoundError:
        raise error(f"no such file: {name}") from None
    except OSError as exc:
        raise error(f"cannot read {name}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{name} is a directory, not an MCAP file; pass one .mcap file")
    if not stat.S_ISREG(st.st_mode):
        kind = "a named pipe" if stat.S_ISFIFO(st.st_mode) else "not a regular file"
        raise error(f"{name} is {kind}; pass an .mcap file (logs are read by seeking, not streamed)")
    return st.st_size


@contextmanager
def mapped(
    path: str | os.PathLike[str], error: type[SimrecError] = McapFileError
) -> Iterator[tuple[mmap.mmap, int]]:
    """``(buffer, size)`` of an MCAP file, read-only; ``error`` when it is missing, empty, not a
    regular file or not MCAP. The map is only ever sliced (copies), so closing it never trips on
    exported views."""
    name = os.fspath(path)
    check_regular(name, error)
    try:  # O_NONBLOCK: a file swapped for a pipe since the check must not block the open
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(f"no such file: {name}") from None
    except OSError as exc:
        raise error(f"cannot read {name}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{name} is not a regular file; pass an .mcap file")
        size = st.st_size
        if size == 0:
            raise error(f"{name} is empty (0 bytes): there is no MCAP data in it")
        head = f.read(len(MAGIC))
        if head != MAGIC:
            if MAGIC.startswith(head):
                raise error(f"{name} is truncated: only {size} byte(s), not even a full MCAP header")
            raise error(f"{name} is not an MCAP file (bad magic bytes)")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            yield buf, size


def read_footer(buf: object, size: int) -> Footer | None:
    """The Footer record before the closing magic, or None when the file does not end with one."""
    at = size - len(MAGIC) - FOOTER_SIZE
    if at < len(MAGIC) or buf[size - len(MAGIC) : size] != MAGIC:  # type: ignore[index]
        return None
    opcode, length = PREFIX.unpack_from(buf, at)  # type: ignore[arg-type]
    if opcode != Opcode.FOOTER or length != FOOTER_BODY.size:
        return None
    start, offsets, crc = FOOTER_BODY.unpack_from(buf, at + PREFIX.size)  # type: ignore[arg-type]
    return Footer(at, start, offsets, crc)


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False
