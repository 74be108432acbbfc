"""Walk the data section record by record, past damage where the framing allows.

The damage-tolerant primitive every reader stands on (``repair``, ``logs``). Yields complete
records and chunks; with ``verify`` (the default) only chunks that decompress and match their
CRC, else chunk headers whose framing adds up (the caller checks them when it needs their
records). What could not be used is collected in ``breaks`` with its byte offset, the reason,
and where the walk picked up again (None when it could not: the usual truncated tail). A tail
of zeros, as a power cut leaves it, is named as such and costs one search of its length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from .records import (
    PREFIX,
    ChunkHeader,
    Damage,
    Opcode,
    chunk_records,
    find_next_chunk,
    opcode_name,
    parse_chunk_header,
    split_records,
    valid_opcode,
)


@dataclass
class Break:
    """Where the data section stopped being readable, and where reading resumed."""

    offset: int
    reason: str
    resumed_at: int | None

    def describe(self, size: int) -> str:
        where = f"at byte {self.offset} of {size}"
        if self.resumed_at is None:
            return f"{self.reason} {where}; nothing after it could be read"
        skipped = self.resumed_at - self.offset
        return f"{self.reason} {where}; skipped {skipped} bytes and continued at byte {self.resumed_at}"


class Item(NamedTuple):
    """A record (``chunk`` is None) or a chunk (verified: ``records`` = its decompressed bytes,
    ``inner`` = ``(opcode, body_start, body_end)`` of each record inside; unverified: both None)."""

    offset: int
    opcode: int
    body_start: int
    body_end: int
    chunk: ChunkHeader | None = None
    records: bytes | memoryview | None = None
    inner: list | None = None


class DataWalk:
    """Iterate the records of ``buf[start:end]`` (``buf`` is the mmapped file)."""

    def __init__(self, buf: object, start: int, end: int, *, verify: bool = True) -> None:
        self.buf = buf
        self.verify = verify
        self.start = start
        self.end = end
        self.breaks: list[Break] = []
        self.stopped_at: int | None = None  # offset of the DataEnd/Footer that ended the walk
        self.position = start  # how far the walk has got (for progress)

    def __iter__(self) -> Iterator[Item]:
        buf, end = self.buf, self.end
        pos = self.start
        while pos < end:
            self.position = pos
            if pos + PREFIX.size > end:
                self.breaks.append(Break(pos, f"truncated record ({end - pos} of 9 header bytes)", None))
                return
            opcode, length = PREFIX.unpack_from(buf, pos)
            record_end = pos + PREFIX.size + length
            if not valid_opcode(opcode):
                if opcode == 0 and _zeros(buf, pos, end):
                    reason = f"the file ends in {end - pos} zero bytes (as a power cut leaves it)"
                    self.breaks.append(Break(pos, reason, None))
                    return
                pos = self._resync(pos, f"invalid opcode 0x{opcode:02x} (record framing lost)")
                continue
            if record_end > end:
                found = find_next_chunk(buf, pos + 1, end)
                if found is None:
                    have = end - pos
                    reason = f"truncated {opcode_name(opcode)} record ({have} of {record_end - pos} bytes)"
                    self.breaks.append(Break(pos, reason, None))
                    return
                reason = f"{opcode_name(opcode)} record with a bad length ({length} bytes)"
                self.breaks.append(Break(pos, reason, found))
                pos = found
                continue
            if opcode == Opcode.CHUNK:
                try:
                    head = parse_chunk_header(buf, pos, end)
                    if not self.verify:
                        yield Item(pos, opcode, pos + PREFIX.size, record_end, head)
                        pos = record_end
                        continue
                    records = chunk_records(buf, head)
                    inner = split_records(records, pos)
                except Damage as exc:
                    resume = self._after_damaged_chunk(pos, record_end)
                    self.breaks.append(Break(pos, f"chunk: {exc.reason}", resume))
                    pos = resume
                    continue
                yield Item(pos, opcode, pos + PREFIX.size, record_end, head, records, inner)
            else:
                yield Item(pos, opcode, pos + PREFIX.size, record_end)
                if opcode in (Opcode.DATA_END, Opcode.FOOTER):
                    self.stopped_at = pos
                    self.position = record_end
                    return
            pos = record_end
        self.position = end

    def _after_damaged_chunk(self, pos: int, record_end: int) -> int:
        """Where to go on after a bad chunk: its end when a sane record follows (only the contents
        were damaged), else the next plausible chunk (its length field may be the damage)."""
        buf, end = self.buf, self.end
        if record_end + PREFIX.size <= end:
            opcode, length = PREFIX.unpack_from(buf, record_end)
            if valid_opcode(opcode) and record_end + PREFIX.size + length <= end:
                return record_end
        found = find_next_chunk(buf, pos + 1, end)
        return record_end if found is None else found

    def _resync(self, pos: int, reason: str) -> int:
        found = find_next_chunk(self.buf, pos + 1, self.end)
        self.breaks.append(Break(pos, reason, found))
        return self.end if found is None else found


_ZERO_BLOCK = bytes(1 << 20)


def _zeros(buf: object, start: int, end: int) -> bool:
    """Whether ``buf[start:end]`` is all zero bytes: read once, a MiB at a time (memcmp speed)."""
    step = len(_ZERO_BLOCK)
    for at in range(start, end, step):
        piece = buf[at : min(at + step, end)]  # type: ignore[index]
        if piece != (_ZERO_BLOCK if len(piece) == step else bytes(len(piece))):
            return False
    return True
