"""Fast path: facts from the summary section (and a few index records) of a cleanly closed file.

This keeps `simrec info` instant on multi-gigabyte recordings: nothing in the data section is
decompressed. Per-topic first/last times come from the message-index records of the first and
last chunks that hold each topic.
"""

from __future__ import annotations

from simrec_node.logs import LogFile
from simrec_node.logs.file import summary_time_range
from simrec_node.mcap import metadata as names
from simrec_node.mcap.records import (
    PARSE_ERRORS,
    PREFIX,
    ChunkIndexRecord,
    Opcode,
    parse_message_index,
    parse_metadata,
)

from .facts import ChannelFacts, LogFacts


def read_indexed(file: LogFile) -> LogFacts:
    """Gather facts from the summary section of ``file`` (which has one: ``file.indexed``)."""
    summary = file.summary
    assert summary is not None and summary.statistics is not None
    stats = summary.statistics
    facts = LogFacts(library=file.library, profile=file.profile, indexed=True)
    facts.message_count = stats.message_count
    facts.start_ns, facts.end_ns = summary_time_range(summary)
    if stats.message_count and (facts.start_ns, facts.end_ns) != (
        stats.message_start_time,
        stats.message_end_time,
    ):
        facts.warnings.append(
            f"the summary's statistics say the messages span {stats.message_start_time}.."
            f"{stats.message_end_time} ns, its chunk indexes {facts.start_ns}..{facts.end_ns}; "
            "times shown are the chunk indexes' (`simrec doctor` checks the file)"
        )
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
    _fill_channel_times(file, summary.chunk_indexes, facts)
    _read_metadata(file, facts, stats.metadata_count)
    return facts


def _fill_channel_times(file: LogFile, chunks: list[ChunkIndexRecord], facts: LogFacts) -> None:
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

    def span(ci: ChunkIndexRecord, cid: int) -> tuple[int, int] | None:
        offset = ci.message_index_offsets[cid]
        if offset not in cache:
            try:
                times = parse_message_index(file.buf, offset, file.size, cid)[:, 0]
            except PARSE_ERRORS:
                facts.warnings.append(
                    f"the message index at byte {offset} is unreadable; topic times may be off"
                )
                times = None
            cache[offset] = (int(times.min()), int(times.max())) if times is not None and times.size else None
        return cache[offset]

    by_start = sorted(chunks, key=lambda c: c.start_time)
    by_end = sorted(chunks, key=lambda c: c.end_time, reverse=True)
    for cid, ch in facts.channels.items():
        first: int | None = None
        for ci in by_start:
            if first is not None and ci.start_time >= first:
                break  # chunks are sorted: no later one can start earlier
            if cid in ci.message_index_offsets and (found := span(ci, cid)) is not None:
                first = found[0] if first is None else min(first, found[0])
        last: int | None = None
        for ci in by_end:
            if last is not None and ci.end_time <= last:
                break
            if cid not in ci.message_index_offsets:
                continue
            if (found := span(ci, cid)) is not None:
                last = found[1] if last is None else max(last, found[1])
        ch.first_time_ns, ch.last_time_ns = first, last


def _read_metadata(file: LogFile, facts: LogFacts, total: int) -> None:
    summary = file.summary
    assert summary is not None
    indexes = sorted(summary.metadata_indexes, key=lambda mi: mi.offset)
    if total > len(indexes):
        # Some metadata is not indexed (writer disabled the index): from the data section's walk.
        facts.metadata.extend((n, v) for n, v in file.layout().metadata if n in names.KNOWN)
        return
    for mi in indexes:
        if mi.name not in names.KNOWN:
            continue
        try:
            opcode, length = PREFIX.unpack_from(file.buf, mi.offset)
            end = mi.offset + PREFIX.size + length
            if opcode != Opcode.METADATA or end > file.size:
                raise ValueError("not a Metadata record")
            facts.metadata.append(parse_metadata(file.buf, mi.offset + PREFIX.size, end))
        except PARSE_ERRORS:
            facts.warnings.append(f"the metadata record {mi.name!r} at byte {mi.offset} is unreadable")
