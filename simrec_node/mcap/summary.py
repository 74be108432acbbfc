"""The summary section of a cleanly closed MCAP file, read through its footer and checked.

``read_summary`` returns None when there is nothing to use (no footer, no summary section) and
raises ``Damage`` when what is there cannot be trusted (CRC mismatch, a record that overruns
the section, offsets outside the file): either way the caller scans the data section instead.
The statistics are what the writer claimed; nothing here sizes memory from them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from .crc import crc32
from .records import (
    MAGIC,
    PARSE_ERRORS,
    PREFIX,
    ChannelRecord,
    ChunkIndexRecord,
    Damage,
    MetadataIndexRecord,
    Opcode,
    SchemaRecord,
    StatisticsRecord,
    opcode_name,
    parse_channel,
    parse_chunk_index,
    parse_header,
    parse_metadata_index,
    parse_schema,
    parse_statistics,
    valid_opcode,
)
from .source import Footer, read_footer


@dataclass
class Summary:
    """What a file's summary section says about it."""

    footer: Footer
    schemas: dict[int, SchemaRecord] = field(default_factory=dict)
    channels: dict[int, ChannelRecord] = field(default_factory=dict)
    statistics: StatisticsRecord | None = None
    chunk_indexes: list[ChunkIndexRecord] = field(default_factory=list)
    metadata_indexes: list[MetadataIndexRecord] = field(default_factory=list)


def read_header(buf: object, size: int) -> tuple[str, str]:
    """``(profile, library)`` from the Header record after the magic; Damage when there is none."""
    at = len(MAGIC)
    if at + PREFIX.size > size:
        raise Damage(at, "no Header record after the magic bytes")
    opcode, length = PREFIX.unpack_from(buf, at)  # type: ignore[arg-type]
    if opcode != Opcode.HEADER:
        raise Damage(at, f"expected a Header record, found {opcode_name(opcode)}")
    if at + PREFIX.size + length > size:
        raise Damage(at, f"the Header record claims {length} bytes, more than the file holds")
    try:
        return parse_header(buf, at + PREFIX.size, at + PREFIX.size + length)
    except PARSE_ERRORS as exc:
        raise Damage(at, f"malformed Header record ({exc})") from None


def read_summary(buf: object, size: int) -> Summary | None:
    """The summary section; None when the file has none (or no footer), Damage when it is corrupt."""
    footer = read_footer(buf, size)
    if footer is None or footer.summary_start == 0:
        return None
    start = footer.summary_start
    stop = footer.summary_offset_start or footer.offset
    if not len(MAGIC) < start <= stop <= footer.offset:
        raise Damage(footer.offset, f"the footer's summary offsets ({start}, {stop}) are outside the file")
    checked = buf[start : footer.offset + PREFIX.size + 16]  # type: ignore[index]
    if footer.summary_crc and crc32(checked) != footer.summary_crc:
        raise Damage(start, "summary CRC mismatch")
    summary = Summary(footer)
    for pos, opcode, body, end in summary_records(buf, start, stop):
        try:
            if opcode == Opcode.SCHEMA:
                schema = parse_schema(buf, body, end)
                summary.schemas[schema.id] = schema
            elif opcode == Opcode.CHANNEL:
                channel = parse_channel(buf, body, end)
                summary.channels[channel.id] = channel
            elif opcode == Opcode.STATISTICS:
                summary.statistics = parse_statistics(buf, body, end)
            elif opcode == Opcode.CHUNK_INDEX:
                index = parse_chunk_index(buf, body, end)
                if index.chunk_offset + index.chunk_length > start or index.start_time > index.end_time:
                    raise Damage(pos, "a ChunkIndex points outside the data section")
                summary.chunk_indexes.append(index)
            elif opcode == Opcode.METADATA_INDEX:
                summary.metadata_indexes.append(parse_metadata_index(buf, body, end))
        except PARSE_ERRORS as exc:
            raise Damage(pos, f"malformed {Opcode(opcode).name} record in the summary ({exc})") from None
    return summary


def summary_records(buf: object, start: int, stop: int) -> Iterator[tuple[int, int, int, int]]:
    """``(offset, opcode, body_start, body_end)`` of each record in ``buf[start:stop]`` (the
    summary or summary offset section); Damage where one is cut off, overruns the section or has
    an opcode that is none."""
    pos = start
    while pos < stop:
        if pos + PREFIX.size > stop:
            raise Damage(pos, "a summary record is cut off")
        opcode, length = PREFIX.unpack_from(buf, pos)  # type: ignore[arg-type]
        end = pos + PREFIX.size + length
        if not valid_opcode(opcode):
            raise Damage(pos, f"a summary record has an invalid opcode ({opcode_name(opcode)})")
        if end > stop:
            raise Damage(pos, f"a {opcode_name(opcode)} record overruns the summary section")
        yield pos, opcode, pos + PREFIX.size, end
        pos = end
