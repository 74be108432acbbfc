"""Fast path: read only the summary section (and a few index records) of a cleanly closed file.

This keeps `simrec info` instant on multi-gigabyte recordings: nothing in the data section is
decompressed. Per-topic first/last times come from the message-index records of the first and
last chunks that hold each topic.
"""

from __future__ import annotations

import io
import struct
from typing import BinaryIO

import numpy as np
from mcap.opcode import Opcode
from mcap.reader import FOOTER_SIZE, SeekingReader
from mcap.records import ChunkIndex, Footer, Metadata
from mcap.stream_reader import StreamReader
from mcap.summary import Summary

from .facts import KNOWN_META, MCAP_MAGIC, ChannelFacts, LogFacts

_INDEX_HEAD = struct.Struct("<BQHI")  # opcode, record length, channel id, entries' byte length


class NoSummary(Exception):
    """The file has no usable summary section; the caller falls back to a scan.

    ``unfinished`` is True when the footer is missing, i.e. the writer never closed the file.
    """

    def __init__(self, reason: str, unfinished: bool = False) -> None:
        super().__init__(reason)
        self.unfinished = unfinished


def _footer(f: BinaryIO, size: int) -> Footer:
    """Read the footer ourselves so a truncated file is told apart from a corrupt summary."""
    tail = FOOTER_SIZE + len(MCAP_MAGIC)
    if size < len(MCAP_MAGIC) + tail:
        raise NoSummary("no footer", unfinished=True)
    f.seek(size - len(MCAP_MAGIC))
    if f.read(len(MCAP_MAGIC)) != MCAP_MAGIC:
        raise NoSummary("no footer", unfinished=True)
    f.seek(size - tail)
    record = next(StreamReader(f, skip_magic=True, record_size_limit=FOOTER_SIZE).records)
    if not isinstance(record, Footer):
        raise NoSummary("no footer", unfinished=True)
    return record


def _read_at(f: BinaryIO, offset: int, size: int) -> object:
    f.seek(offset, io.SEEK_SET)
    return next(StreamReader(f, skip_magic=True, record_size_limit=size).records)


def read_indexed(f: BinaryIO, size: int) -> LogFacts:
    """Gather facts from the summary section; raises `NoSummary` if there is none to use."""
    footer = _footer(f, size)
    if footer.summary_start == 0:
        raise NoSummary("file has no summary section")
    reader = SeekingReader(f, record_size_limit=size)
    header = reader.get_header()
    summary = reader.get_summary()
    if summary is None:
        raise NoSummary("file has no summary section")
    stats = summary.statistics
    if stats is None:
        raise NoSummary("summary section has no statistics record")

    facts = LogFacts(library=header.library, profile=header.profile, indexed=True)
    facts.message_count = stats.message_count
    if stats.message_count:
        facts.start_ns = stats.message_start_time
        facts.end_ns = stats.message_end_time
    facts.chunk_count = stats.chunk_count
    facts.compression = {ci.compression or "none" for ci in summary.chunk_indexes}

    for cid, channel in summary.channels.items():
        schema = summary.schemas.get(channel.schema_id)
        facts.channels[cid] = ChannelFacts(
            topic=channel.topic,
            type_name=schema.name if schema else "",
            message_encoding=channel.message_encoding,
            count=stats.channel_message_counts.get(cid, 0),
        )
    # Statistics may count messages on channels the summary does not repeat; keep them visible.
    for cid, count in stats.channel_message_counts.items():
        if cid not in facts.channels and count:
            facts.channels[cid] = ChannelFacts(f"<unknown channel {cid}>", "", "", count=count)

    _fill_channel_times(f, size, summary, facts)
    _read_metadata(f, size, summary, facts, stats.metadata_count)
    return facts


def _fill_channel_times(f: BinaryIO, size: int, summary: Summary, facts: LogFacts) -> None:
    chunks = summary.chunk_indexes
    has_index = bool(chunks) and all(ci.message_index_offsets for ci in chunks)
    if not has_index:
        if facts.message_count:
            facts.warnings.append(
                "file has no message indexes; per-topic times and frequencies are approximated "
                "from the whole file's start and end"
            )
        for ch in facts.channels.values():
            if ch.count:
                ch.first_time_ns, ch.last_time_ns = facts.start_ns, facts.end_ns
        return

    cache: dict[int, tuple[int, int] | None] = {}

    def span(ci: ChunkIndex, cid: int) -> tuple[int, int] | None:
        offset = ci.message_index_offsets[cid]
        if offset not in cache:
            cache[offset] = _index_span(f, offset, cid, size)
        return cache[offset]

    for cid, ch in facts.channels.items():
        holding = [ci for ci in chunks if cid in ci.message_index_offsets]
        first: int | None = None
        for ci in sorted(holding, key=lambda c: c.message_start_time):
            if first is not None and ci.message_start_time >= first:
                break  # chunks are sorted: no later one can start earlier
            if (found := span(ci, cid)) is not None:
                first = found[0] if first is None else min(first, found[0])
        last: int | None = None
        for ci in sorted(holding, key=lambda c: c.message_end_time, reverse=True):
            if last is not None and ci.message_end_time <= last:
                break
            if (found := span(ci, cid)) is not None:
                last = found[1] if last is None else max(last, found[1])
        ch.first_time_ns, ch.last_time_ns = first, last


def _index_span(f: BinaryIO, offset: int, cid: int, size: int) -> tuple[int, int] | None:
    """(first, last) log time of one message-index record; None when it lists no message.

    Read with one ``frombuffer``: mcap's record parser costs a Python call per entry, which made
    opening a log of 100k small messages take 100+ ms.
    """
    f.seek(offset)
    head = f.read(_INDEX_HEAD.size)
    if len(head) < _INDEX_HEAD.size:
        raise NoSummary(f"expected a message index at byte {offset}")
    opcode, length, channel_id, nbytes = _INDEX_HEAD.unpack(head)
    if opcode != Opcode.MESSAGE_INDEX or channel_id != cid or nbytes % 16 or 2 + 4 + nbytes > length:
        raise NoSummary(f"expected a message index at byte {offset}")
    if offset + 9 + length > size:
        raise NoSummary(f"the message index at byte {offset} runs past the end of the file")
    body = f.read(nbytes)
    if not body:
        return None
    times = np.frombuffer(body, dtype="<u8")[::2]  # (log_time, offset) pairs
    return int(times.min()), int(times.max())


def _read_metadata(f: BinaryIO, size: int, summary: Summary, facts: LogFacts, total: int) -> None:
    indexes = sorted(summary.metadata_indexes, key=lambda mi: mi.offset)
    if total > len(indexes):
        # Some metadata is not indexed (writer disabled the index): walk the data section.
        facts.metadata.extend(_walk_metadata(f, size))
        return
    for mi in indexes:
        if mi.name not in KNOWN_META:
            continue
        record = _read_at(f, mi.offset, size)
        if not isinstance(record, Metadata):
            raise NoSummary(f"expected a metadata record at byte {mi.offset}")
        facts.metadata.append((record.name, dict(record.metadata)))


def _walk_metadata(f: BinaryIO, size: int) -> list[tuple[str, dict[str, str]]]:
    """Hop from record to record by length (no chunk is read) collecting our metadata records."""
    out = []
    offset = len(MCAP_MAGIC)
    while offset + 9 <= size:
        f.seek(offset)
        opcode, length = struct.unpack("<BQ", f.read(9))
        if opcode in (Opcode.DATA_END, Opcode.FOOTER):
            break
        if opcode == Opcode.METADATA:
            record = _read_at(f, offset, size)
            if isinstance(record, Metadata) and record.name in KNOWN_META:
                out.append((record.name, dict(record.metadata)))
        offset += 9 + length
    return out
