"""`simrec doctor`: check an MCAP file's structure, CRCs and indexes against its data.

Reads the data section with the same tolerant walk as recovery (so damage is reported with its
byte offset), then checks the summary section against what the data section holds: ChunkIndex
records against the chunks, MessageIndex records against the chunk contents, Statistics
against the counted messages, and every schema/channel reference.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from simrec_node.mcap.crc import crc32
from simrec_node.mcap.records import (
    MAGIC,
    MESSAGE_HEAD,
    PARSE_ERRORS,
    PREFIX,
    U16,
    ChannelRecord,
    Damage,
    Opcode,
    SchemaRecord,
    opcode_name,
    parse_channel,
    parse_chunk_index,
    parse_data_end,
    parse_message_head,
    parse_message_index,
    parse_metadata,
    parse_metadata_index,
    parse_schema,
    parse_statistics,
    parse_summary_offset,
    record_span,
    valid_opcode,
)
from simrec_node.mcap.source import Footer, mapped, read_footer
from simrec_node.mcap.summary import summary_records
from simrec_node.mcap.walk import DataWalk

from .errors import RepairError

MAX_LINES = 30  # problem lines printed before "... and N more"


@dataclass
class DoctorReport:
    """What ``check`` found: ``problems`` (one line each) and a few counts."""

    path: str
    size: int
    problems: list[str] = field(default_factory=list)
    messages: int = 0
    chunks: int = 0
    damaged: bool = False  # the data section itself is truncated or corrupt

    @property
    def healthy(self) -> bool:
        return not self.problems

    def lines(self, max_lines: int = MAX_LINES) -> list[str]:
        """The report as printed: problem lines, then the verdict."""
        out = list(self.problems[:max_lines])
        if len(self.problems) > max_lines:
            out.append(f"... and {len(self.problems) - max_lines} more problem(s)")
        out.append(self.verdict())
        return out

    def verdict(self) -> str:
        counts = f"{self.messages} message(s) in {self.chunks} chunk(s)"
        if self.healthy:
            return f"{self.path}: healthy ({counts}, {self.size} bytes)"
        what = "damaged" if self.damaged else "inconsistent"
        line = f"{self.path}: {what}: {len(self.problems)} problem(s); {counts} readable"
        if self.messages:
            line += f"; run `simrec recover {self.path} -o FIXED.mcap` to rebuild a valid file"
        return line


def check(path: str | os.PathLike[str], progress: Callable[[int, int], None] | None = None) -> DoctorReport:
    """Check one MCAP file; RepairError for a missing, empty or non-MCAP file.

    ``progress(bytes checked, file size)`` is called after each chunk of the data section.
    """
    with mapped(path, RepairError) as (buf, size):
        return check_buffer(buf, size, os.fspath(path), progress)


@dataclass
class _Chunk:
    length: int
    start_time: int
    end_time: int
    compression: str
    compressed_size: int
    uncompressed_size: int
    entries: dict[int, list[tuple[int, int]]]  # channel -> (log_time, offset in chunk)
    indexes: dict[int, int] = field(default_factory=dict)  # channel -> MessageIndex offset
    index_end: int = 0  # end of the last MessageIndex record after the chunk


def check_buffer(
    buf: object, size: int, name: str, progress: Callable[[int, int], None] | None = None
) -> DoctorReport:
    """Check the mapped file ``buf`` of ``size`` bytes (the magic at its start is already checked)."""
    checker = _Checker(buf, size, DoctorReport(name, size))
    checker.progress = progress
    checker.run()
    return checker.report


class _Checker:
    def __init__(self, buf: object, size: int, report: DoctorReport) -> None:
        self.buf = buf
        self.size = size
        self.report = report
        self.schemas: dict[int, SchemaRecord] = {}
        self.channels: dict[int, ChannelRecord] = {}
        self.chunks: dict[int, _Chunk] = {}
        self.metadata: dict[int, tuple[str, int]] = {}  # offset -> (name, record length)
        self.counts: dict[int, int] = defaultdict(int)
        self.start_time: int | None = None
        self.end_time: int | None = None
        self.message_channels: set[int] = set()
        self.progress: Callable[[int, int], None] | None = None

    def problem(self, text: str) -> None:
        self.report.problems.append(text)

    # ------------------------------------------------------------ structure

    def run(self) -> None:
        buf, size = self.buf, self.size
        try:
            record_span(buf, len(MAGIC), size, Opcode.HEADER)
        except PARSE_ERRORS:
            self.problem(f"no Header record at byte {len(MAGIC)}")
        footer = read_footer(buf, size)
        if footer is None:
            self.report.damaged = True
            self.problem(
                "no footer and closing magic at the end: the writer never closed the file "
                "(it crashed, was killed, or is still recording)"
            )
            data_end = size
        else:
            data_end = self._check_footer(footer)
        self._walk(data_end, footer)
        if footer is not None and footer.summary_start and self._summary_in_range(footer):
            self._summary(footer)
        self._references()
        self.report.messages = sum(self.counts.values())
        self.report.chunks = len(self.chunks)

    def _check_footer(self, footer: Footer) -> int:
        """Where the data section ends according to the footer (checked to be in range)."""
        start, offsets, at = footer.summary_start, footer.summary_offset_start, footer.offset
        if start and not len(MAGIC) < start <= at:
            self.problem(f"footer: summary_start {start} is outside the file's body (footer at byte {at})")
            return at
        if offsets and not max(start, len(MAGIC)) <= offsets <= at:
            self.problem(f"footer: summary_offset_start {offsets} is outside the summary (footer at {at})")
            return start or at
        return start or offsets or at

    def _summary_in_range(self, footer: Footer) -> bool:
        """Whether the footer's summary offsets lie inside the file (``_check_footer`` said if not)."""
        start, offsets, at = footer.summary_start, footer.summary_offset_start, footer.offset
        return len(MAGIC) < start <= at and (not offsets or start <= offsets <= at)

    def _walk(self, data_end: int, footer: Footer | None) -> None:
        walk = DataWalk(self.buf, len(MAGIC), data_end)
        last_chunk: _Chunk | None = None
        for item in walk:
            if item.chunk is not None:
                last_chunk = self._chunk(item)
                if self.progress is not None:
                    self.progress(walk.position, self.size)
            elif item.opcode == Opcode.MESSAGE_INDEX:
                self._message_index(item.offset, item.body_start, item.body_end, last_chunk)
            else:
                self._record(item.offset, item.opcode, item.body_start, item.body_end, data=True)
        for damage in walk.breaks:
            self.report.damaged = True
            self.problem(damage.describe(self.size))
        if footer is None:
            return
        if walk.stopped_at is None:
            if not walk.breaks:
                self.problem(f"no DataEnd record before the summary (byte {data_end})")
        else:
            self._data_end(walk.stopped_at, walk.position, data_end)

    def _data_end(self, offset: int, end: int, data_end: int) -> None:
        try:
            crc = parse_data_end(self.buf, *record_span(self.buf, offset, end, Opcode.DATA_END))
        except PARSE_ERRORS:
            self.problem(f"a Footer record at byte {offset}, inside the data section")
            return
        if end != data_end:
            self.problem(f"DataEnd at byte {offset} is followed by {data_end - end} unexpected byte(s)")
        if crc and crc32(self.buf[:offset]) != crc:
            self.problem("data section CRC (in DataEnd) does not match the data section")

    # ------------------------------------------------------------ data section records

    def _chunk(self, item: object) -> _Chunk:
        head = item.chunk
        records = item.records
        entries: dict[int, list[tuple[int, int]]] = {}
        unpack = MESSAGE_HEAD.unpack_from
        lo = hi = None
        message = int(Opcode.MESSAGE)
        for opcode, start, end in item.inner:
            if opcode == message:
                cid, _, log_time, _ = unpack(records, start)
                found = entries.get(cid)
                if found is None:
                    found = entries[cid] = []
                found.append((log_time, start - PREFIX.size))
            else:
                self._record(head.offset, opcode, start, end, data=True, buf=records, in_chunk=True)
        for cid, found in entries.items():
            self.counts[cid] += len(found)
            self.message_channels.add(cid)
            times = [t for t, _ in found]
            lo = min(times) if lo is None else min(lo, *times)
            hi = max(times) if hi is None else max(hi, *times)
        if lo is not None:
            self._times(lo, hi)
            if (head.start_time, head.end_time) != (lo, hi):
                self.problem(
                    f"chunk at byte {head.offset}: header says log times {head.start_time}..{head.end_time}, "
                    f"its messages span {lo}..{hi}"
                )
        chunk = _Chunk(
            head.length,
            head.start_time,
            head.end_time,
            head.compression,
            head.data_end - head.data_start,
            head.uncompressed_size,
            entries,
        )
        self.chunks[head.offset] = chunk
        return chunk

    def _times(self, lo: int, hi: int) -> None:
        self.start_time = lo if self.start_time is None else min(self.start_time, lo)
        self.end_time = hi if self.end_time is None else max(self.end_time, hi)

    def _record(
        self,
        offset: int,
        opcode: int,
        start: int,
        end: int,
        *,
        data: bool,
        buf: object = None,
        in_chunk: bool = False,
    ) -> None:
        """A Schema/Channel/Metadata/loose Message record: parse it and remember it."""
        buf = self.buf if buf is None else buf
        where = f"{opcode_name(opcode)} record {'in the chunk ' if in_chunk else ''}at byte {offset}"
        try:
            if opcode == Opcode.SCHEMA:
                self._define(self.schemas, parse_schema(buf, start, end), "schema", where)
            elif opcode == Opcode.CHANNEL:
                self._define(self.channels, parse_channel(buf, start, end), "channel", where)
            elif opcode == Opcode.METADATA:
                name, _ = parse_metadata(buf, start, end)
                self.metadata[offset] = (name, end - offset)
            elif opcode == Opcode.MESSAGE:
                cid, _, log_time, _ = parse_message_head(buf, start, end)
                self.counts[cid] += 1
                self.message_channels.add(cid)
                self._times(log_time, log_time)
            elif data and opcode in (
                Opcode.CHUNK_INDEX,
                Opcode.STATISTICS,
                Opcode.SUMMARY_OFFSET,
                Opcode.METADATA_INDEX,
            ):
                self.problem(f"{where}: a summary record inside the data section")
            elif not valid_opcode(opcode):
                self.problem(f"{where}: invalid opcode")
        except PARSE_ERRORS as exc:
            self.problem(f"{where}: malformed ({exc})")

    def _define(self, table: dict, record: object, what: str, where: str) -> None:
        known = table.get(record.id)
        if known is None:
            table[record.id] = record
        elif known != record:
            self.problem(f"{where}: {what} id {record.id} is defined twice, differently")

    def _message_index(self, offset: int, start: int, end: int, chunk: _Chunk | None) -> None:
        where = f"MessageIndex at byte {offset}"
        try:
            (cid,) = U16.unpack_from(self.buf, start)
            pairs = parse_message_index(self.buf, offset, end, cid)
        except PARSE_ERRORS as exc:
            self.problem(f"{where}: malformed ({exc})")
            return
        entries = [tuple(pair) for pair in pairs.tolist()]
        if chunk is None:
            self.problem(f"{where}: no chunk before it")
            return
        chunk.indexes[cid] = offset
        chunk.index_end = end
        actual = chunk.entries.get(cid, [])
        if sorted(entries) != sorted(actual):
            self.problem(
                f"{where} (channel {cid}): lists {len(entries)} message(s), "
                f"the chunk holds {len(actual)} on that channel"
                + ("" if len(entries) != len(actual) else " at other offsets or times")
            )

    # ------------------------------------------------------------ summary section

    def _summary(self, footer: Footer) -> None:
        buf = self.buf
        start = footer.summary_start
        stop = footer.summary_offset_start or footer.offset
        if footer.summary_crc:
            crc = crc32(buf[start : footer.offset + PREFIX.size + 16])
            if crc != footer.summary_crc:
                self.problem("summary CRC (in the footer) does not match the summary section")
        records = self._summary_records(start, stop, "summary section")
        groups: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
        for offset, opcode, s, e in records:
            groups[opcode].append((offset, s, e))
        for offset, s, e in groups.get(Opcode.SCHEMA, []):
            self._summary_definition(self.schemas, parse_schema, offset, s, e, "schema")
        for offset, s, e in groups.get(Opcode.CHANNEL, []):
            self._summary_definition(self.channels, parse_channel, offset, s, e, "channel")
        self._chunk_indexes(groups.get(Opcode.CHUNK_INDEX, []))
        self._metadata_indexes(groups.get(Opcode.METADATA_INDEX, []))
        stats = groups.get(Opcode.STATISTICS, [])
        if len(stats) > 1:
            self.problem(f"summary section has {len(stats)} Statistics records (at most one allowed)")
        for offset, s, e in stats[:1]:
            self._statistics(offset, s, e, groups)
        if footer.summary_offset_start:
            self._summary_offsets(footer, records)

    def _summary_records(self, start: int, stop: int, what: str) -> list[tuple[int, int, int, int]]:
        out = []
        try:
            for record in summary_records(self.buf, start, stop):
                pos, opcode = record[0], record[1]
                if opcode in (
                    Opcode.CHUNK,
                    Opcode.MESSAGE,
                    Opcode.MESSAGE_INDEX,
                    Opcode.DATA_END,
                    Opcode.FOOTER,
                    Opcode.HEADER,
                ):
                    self.problem(
                        f"{what}: a {opcode_name(opcode)} record at byte {pos} does not belong there"
                    )
                out.append(record)
        except Damage as exc:
            self.problem(f"{what}: {exc.reason} at byte {exc.offset}")
        return out

    def _summary_definition(self, table: dict, parse, offset: int, s: int, e: int, what: str) -> None:
        try:
            record = parse(self.buf, s, e)
        except PARSE_ERRORS as exc:
            self.problem(f"summary {what} record at byte {offset}: malformed ({exc})")
            return
        known = table.get(record.id)
        if known is None:
            table[record.id] = record
        elif known != record:
            self.problem(f"summary {what} {record.id} differs from the one in the data section")

    def _chunk_indexes(self, records: list[tuple[int, int, int]]) -> None:
        indexed: set[int] = set()
        for offset, s, e in records:
            where = f"ChunkIndex at byte {offset}"
            try:
                ci = parse_chunk_index(self.buf, s, e)
            except PARSE_ERRORS as exc:
                self.problem(f"{where}: malformed ({exc})")
                continue
            start_t, end_t, chunk_at, length = ci.start_time, ci.end_time, ci.chunk_offset, ci.chunk_length
            index_offsets, index_length, compression = (
                ci.message_index_offsets,
                ci.message_index_length,
                ci.compression,
            )
            compressed, uncompressed = ci.compressed_size, ci.uncompressed_size
            chunk = self.chunks.get(chunk_at)
            if chunk is None:
                self.problem(f"{where}: points at byte {chunk_at}, where there is no readable chunk")
                continue
            indexed.add(chunk_at)
            wrong = []
            if length != chunk.length:
                wrong.append(f"length {length} (chunk has {chunk.length})")
            if (start_t, end_t) != (chunk.start_time, chunk.end_time):
                wrong.append("message time range")
            if compression != chunk.compression:
                wrong.append(f"compression {compression!r} (chunk has {chunk.compression!r})")
            if (compressed, uncompressed) != (chunk.compressed_size, chunk.uncompressed_size):
                wrong.append("compressed/uncompressed size")
            if index_offsets != chunk.indexes:
                wrong.append("MessageIndex offsets")
            elif chunk.indexes and index_length != chunk.index_end - (chunk_at + chunk.length):
                wrong.append("MessageIndex length")
            if wrong:
                self.problem(f"{where} (chunk at byte {chunk_at}): wrong " + ", ".join(wrong))
        if records:
            for offset in sorted(set(self.chunks) - indexed):
                self.problem(f"chunk at byte {offset} has no ChunkIndex in the summary")

    def _metadata_indexes(self, records: list[tuple[int, int, int]]) -> None:
        for offset, s, e in records:
            where = f"MetadataIndex at byte {offset}"
            try:
                mi = parse_metadata_index(self.buf, s, e)
            except PARSE_ERRORS as exc:
                self.problem(f"{where}: malformed ({exc})")
                continue
            at, length, name = mi.offset, mi.length, mi.name
            if self.metadata.get(at) != (name, length):
                self.problem(f"{where}: no Metadata record {name!r} of {length} bytes at byte {at}")

    def _statistics(self, offset: int, s: int, e: int, groups: dict) -> None:
        try:
            st = parse_statistics(self.buf, s, e)
        except PARSE_ERRORS as exc:
            self.problem(f"Statistics at byte {offset}: malformed ({exc})")
            return
        messages, schemas, channels = st.message_count, st.schema_count, st.channel_count
        metadata, chunks, start_t, end_t = (
            st.metadata_count,
            st.chunk_count,
            st.message_start_time,
            st.message_end_time,
        )
        per_channel = st.channel_message_counts
        counted = sum(self.counts.values())
        checks = [
            ("message_count", messages, counted),
            ("schema_count", schemas, len(self.schemas)),
            ("channel_count", channels, len(self.channels)),
            ("metadata_count", metadata, len(self.metadata)),
            ("chunk_count", chunks, len(self.chunks)),
        ]
        if counted:
            checks += [
                ("message_start_time", start_t, self.start_time),
                ("message_end_time", end_t, self.end_time),
            ]
        for what, stated, actual in checks:
            if stated != actual:
                self.problem(f"Statistics: {what} is {stated}, the file holds {actual}")
        actual_counts = {cid: n for cid, n in self.counts.items() if n}
        if per_channel and {k: v for k, v in per_channel.items() if v} != actual_counts:
            self.problem("Statistics: per-channel message counts do not match the messages in the file")

    def _summary_offsets(self, footer: Footer, records: list[tuple[int, int, int, int]]) -> None:
        starts = {offset: opcode for offset, opcode, _, _ in records}
        ends = {end for _, _, _, end in records} | {footer.summary_start}
        for offset, opcode, s, e in self._summary_records(
            footer.summary_offset_start, footer.offset, "summary offset section"
        ):
            if opcode != Opcode.SUMMARY_OFFSET:
                self.problem(f"summary offset section: a {opcode_name(opcode)} record at byte {offset}")
                continue
            try:
                group, start, length = parse_summary_offset(self.buf, s, e)
            except PARSE_ERRORS as exc:
                self.problem(f"SummaryOffset at byte {offset}: malformed ({exc})")
                continue
            if length == 0:
                continue  # an empty group (mcap's writer lists groups it has nothing for)
            name = opcode_name(group)
            inside = [op for at, op in starts.items() if start <= at < start + length]
            if start not in starts or start + length not in ends or set(inside) != {group}:
                self.problem(f"SummaryOffset at byte {offset}: does not delimit the {name} group")

    # ------------------------------------------------------------ references

    def _references(self) -> None:
        for cid in sorted(self.message_channels - set(self.channels)):
            self.problem(f"{self.counts[cid]} message(s) on channel {cid}, which has no Channel record")
        for channel in self.channels.values():
            if channel.schema_id and channel.schema_id not in self.schemas:
                self.problem(
                    f"channel {channel.id} ({channel.topic}) uses schema {channel.schema_id}, not defined"
                )
