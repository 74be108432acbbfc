"""Open the file to repair or check: clear one-line errors for bad input, then an mmap of it."""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import RepairError
from .records import FOOTER_SIZE, MAGIC, OP_FOOTER, PREFIX


@dataclass(frozen=True)
class Footer:
    offset: int
    summary_start: int
    summary_offset_start: int
    summary_crc: int


@contextmanager
def mapped(path: str | os.PathLike[str]) -> Iterator[tuple[mmap.mmap, int]]:
    """``(buffer, size)`` of an MCAP file, read-only; RepairError when it is missing, empty or not
    MCAP. The map is only ever sliced (copies), so closing it never trips on exported views."""
    name = os.fspath(path)
    try:
        f = open(name, "rb")  # noqa: SIM115 - closed below, after the map
    except FileNotFoundError:
        raise RepairError(f"no such file: {name}") from None
    except IsADirectoryError:
        raise RepairError(f"{name} is a directory, not an MCAP file; pass one .mcap file") from None
    except OSError as exc:
        raise RepairError(f"cannot read {name}: {exc.strerror or exc}") from None
    with f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise RepairError(f"{name} is empty (0 bytes): there is no MCAP data in it")
        head = f.read(len(MAGIC))
        if head != MAGIC:
            if MAGIC.startswith(head):
                raise RepairError(f"{name} has only {size} byte(s), not even a full MCAP header")
            raise RepairError(f"{name} is not an MCAP file (it does not start with the MCAP magic bytes)")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            yield buf, size


def read_footer(buf: mmap.mmap, size: int) -> Footer | None:
    """The Footer record before the closing magic, or None when the file does not end with one."""
    at = size - len(MAGIC) - FOOTER_SIZE
    if at < len(MAGIC) or buf[size - len(MAGIC) :] != MAGIC:
        return None
    opcode, length = PREFIX.unpack_from(buf, at)
    if opcode != OP_FOOTER or length != FOOTER_SIZE - PREFIX.size:
        return None
    start, offsets, crc = struct.unpack_from("<QQI", buf, at + PREFIX.size)
    return Footer(at, start, offsets, crc)


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False
