"""A chunk's messages as columns: channel, sequence, times and payload spans as numpy arrays.

Bulk readers (``convert``'s columns, the torch dataset) want a chunk's messages of a topic as
one array, not one Python object per message. ``chunk_batch`` reads every header of a chunk's
message records with one numpy view or gather, found one of two ways. Records of one size (a
topic's fixed-size tensors, a lone big message) are found from the first record's length: the
chunk is a whole number of them, and every one found there is a Message record of that length,
so each ends where the next begins and the last at the chunk's end, which is what a walk of
the records would find. Other chunks are found from their MessageIndex records (one
``frombuffer`` per channel): the index lies outside the chunk and no CRC covers it, so it is
trusted only when it proves itself the same way: its offsets, sorted, must tile the chunk's
records exactly, each a Message record of the indexed channel and time. Where neither holds (no
index, a chunk that also holds Schema/Channel records, damage), the records are walked one by
one in Python, with the walk's damage rule: keep the messages before a break, say what broke.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from simrec_node.mcap.records import MESSAGE_HEAD, PREFIX, Opcode, opcode_name

_MESSAGE = int(Opcode.MESSAGE)
_HEAD = PREFIX.size + MESSAGE_HEAD.size  # opcode, length, channel, sequence, log_time, publish_time
_HEAD_RANGE = np.arange(_HEAD, dtype=np.int64)
_HEAD_FIELDS = np.dtype(  # a Message record's head as ``PREFIX`` and ``MESSAGE_HEAD`` lay it out
    [
        ("opcode", "u1"),
        ("length", "<u8"),
        ("channel", "<u2"),
        ("sequence", "<u4"),
        ("log_time", "<u8"),
        ("publish_time", "<u8"),
    ]
)
_EMPTY_I = np.zeros(0, dtype=np.int64)
_EMPTY_U = np.zeros(0, dtype=np.uint64)


@dataclass(slots=True)
class Batch:
    """The messages of one chunk (or one loose record) on the wanted channels within the time
    window, in record order. ``records`` holds the payloads: message ``i``'s payload is
    ``records[start[i]:end[i]]`` (a view of a decompressed chunk: copy what you keep).
    ``channel`` holds the log's channel ids (`Channel.id`)."""

    records: bytes | bytearray | memoryview
    channel: np.ndarray  # int64
    sequence: np.ndarray  # uint32
    log_time: np.ndarray  # uint64 (valid MCAP times reach 2**64 - 1)
    publish_time: np.ndarray  # uint64
    start: np.ndarray  # int64
    end: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.channel)

    def payload(self, i: int) -> memoryview:
        return memoryview(self.records)[int(self.start[i]) : int(self.end[i])]

    def rows(self, which: np.ndarray) -> np.ndarray | None:
        """The payloads of messages ``which`` as one ``[n, length]`` uint8 array when they all
        have the same length (a strided view of ``records`` when they are evenly spaced, else one
        gather), None when their lengths differ."""
        starts = self.start[which]
        lengths = self.end[which] - starts
        if not len(starts) or np.any(lengths != lengths[0]):
            return None
        width = int(lengths[0])
        data = np.frombuffer(self.records, dtype=np.uint8)
        if len(starts) == 1:
            return data[int(starts[0]) : int(starts[0]) + width].reshape(1, width)
        steps = np.diff(starts)
        if steps[0] > 0 and np.all(steps == steps[0]):
            first = data[int(starts[0]) :]
            return np.lib.stride_tricks.as_strided(
                first, shape=(len(starts), width), strides=(int(steps[0]), 1), writeable=False
            )
        return data[starts[:, None] + np.arange(width, dtype=np.int64)]


def chunk_batch(
    records: bytes | bytearray | memoryview,
    index: Callable[[], np.ndarray | None],
    channels: np.ndarray,
    lo: int,
    hi: int,
    broken: list[str],
) -> Batch:
    """The chunk's messages as a `Batch`. ``index()`` gives the chunk's MessageIndex entries of
    every channel as ``[n, 3]`` uint64 (channel id, log_time, offset), or None (asked only when
    the records are not of one size); ``channels`` maps the file's channel id to the log's (-1:
    not wanted). What broke the records' framing, if something did, is added to ``broken``."""
    found = _of_one_size(records)
    if found is None:
        entries = index()
        found = _from_index(records, entries) if entries is not None and len(entries) else None
    if found is None:
        return scan_batch(records, channels, lo, hi, broken)
    cid, sequence, log_time, publish_time, start, end = found
    ours = channels[cid]
    keep = ours >= 0
    if lo > 0 or hi < (1 << 64) - 1:
        keep &= (log_time >= np.uint64(lo)) & (log_time <= np.uint64(hi))
    if keep.all():
        return Batch(records, ours, sequence, log_time, publish_time, start, end)
    return Batch(
        records, ours[keep], sequence[keep], log_time[keep], publish_time[keep], start[keep], end[keep]
    )


def _of_one_size(records: bytes | bytearray | memoryview) -> tuple[np.ndarray, ...] | None:
    """Every message's header where the chunk is Message records of one size, else None."""
    size = len(records)
    if size < _HEAD:
        return None
    opcode, length = PREFIX.unpack_from(records, 0)
    step = PREFIX.size + length
    if opcode != _MESSAGE or length < MESSAGE_HEAD.size or size % step:
        return None
    heads = np.ndarray((size // step,), _HEAD_FIELDS, records, strides=(step,))  # no copy
    if np.any(heads["opcode"] != _MESSAGE) or np.any(heads["length"] != length):
        return None
    offsets = np.arange(0, size, step, dtype=np.int64)
    return _columns(heads, offsets, offsets + step)


def _from_index(records: bytes | bytearray | memoryview, index: np.ndarray) -> tuple[np.ndarray, ...] | None:
    """Every message's header from the index, or None unless the index tiles the records."""
    size = len(records)
    order = np.argsort(index[:, 2], kind="stable")
    index = index[order]
    offsets = index[:, 2]
    if offsets[0] != 0 or offsets[-1] > size - _HEAD:  # (unsigned: no negative offsets)
        return None
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(records, dtype=np.uint8)
    steps = np.diff(offsets)
    if len(steps) and steps[0] >= _HEAD and np.all(steps == steps[0]):  # records of one size
        heads = np.ndarray((len(offsets),), _HEAD_FIELDS, data, strides=(int(steps[0]),))  # no copy
    else:  # one gather for every header
        heads = data[offsets[:, None] + _HEAD_RANGE].view(_HEAD_FIELDS)[:, 0]
    length = heads["length"]
    if np.any(heads["opcode"] != _MESSAGE) or np.any(length < MESSAGE_HEAD.size) or np.any(length > size):
        return None
    end = offsets + PREFIX.size + length.astype(np.int64)
    if end[-1] != size or np.any(end[:-1] != offsets[1:]):
        return None
    found = _columns(heads, offsets, end)
    cid, log_time = found[0], found[2]
    if np.any(cid != index[:, 0].astype(np.int64)) or np.any(log_time != index[:, 1]):
        return None
    return found


def _columns(heads: np.ndarray, offsets: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, ...]:
    """(channel, sequence, log_time, publish_time, payload start, payload end) of checked heads."""
    cid = heads["channel"].astype(np.int64)
    return cid, heads["sequence"], heads["log_time"], heads["publish_time"], offsets + _HEAD, end


def message_records(
    records: bytes | bytearray | memoryview, pos: int, broken: list[str]
) -> Iterator[tuple[int, int]]:
    """``(body start, record end)`` of each Message record in a chunk's ``records`` from record
    position ``pos``, walking record by record (one ``unpack`` each); what broke the framing, if
    something did, is added to ``broken`` and ends the walk (the records before it are kept)."""
    unpack_prefix = PREFIX.unpack_from
    end = len(records)
    while pos + 9 <= end:
        opcode, length = unpack_prefix(records, pos)
        body = pos + 9
        pos = body + length
        if pos > end:
            broken.append(f"a {opcode_name(opcode)} record overruns the chunk")
            return
        if opcode == _MESSAGE:
            if length < MESSAGE_HEAD.size:
                broken.append("a Message record is too short")
                return
            yield body, pos
    if pos != end:
        broken.append("a record is cut off at the end of the chunk")


def scan_batch(
    records: bytes | bytearray | memoryview, channels: np.ndarray, lo: int, hi: int, broken: list[str]
) -> Batch:
    """The record-by-record walk (`message_records`): for chunks the index cannot describe, and
    loose Message records."""
    unpack = MESSAGE_HEAD.unpack_from
    skip = MESSAGE_HEAD.size
    cids: list[int] = []
    sequences: list[int] = []
    log_times: list[int] = []
    publish_times: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    wanted = np.flatnonzero(channels >= 0)
    ours = dict(zip(wanted.tolist(), channels[wanted].tolist(), strict=True)).get
    for body, stop in message_records(records, 0, broken):
        cid, sequence, log_time, publish_time = unpack(records, body)
        channel = ours(cid)
        if channel is not None and lo <= log_time <= hi:
            cids.append(channel)
            sequences.append(sequence)
            log_times.append(log_time)
            publish_times.append(publish_time)
            starts.append(body + skip)
            ends.append(stop)
    if not cids:
        return Batch(records, _EMPTY_I, np.zeros(0, np.uint32), _EMPTY_U, _EMPTY_U, _EMPTY_I, _EMPTY_I)
    return Batch(
        records,
        np.array(cids, dtype=np.int64),
        np.array(sequences, dtype=np.uint32),
        np.array(log_times, dtype=np.uint64),
        np.array(publish_times, dtype=np.uint64),
        np.array(starts, dtype=np.int64),
        np.array(ends, dtype=np.int64),
    )
