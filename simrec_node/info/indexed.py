"""Fast path: facts from the summary section (and a few index records) of a cleanly closed file.

This keeps `simrec info` instant on multi-gigabyte recordings: nothing in the data section is
decompressed. Per-topic first/last times come from the message-index records of the first and
last chunks that hold each topic; their publish times (for rates over sim time) from the heads of
those two messages alone.
"""

from __future__ import annotations

from simrec_node.logs import LogFile
from simrec_node.logs.file import summary_time_range
from simrec_node.mcap import metadata as names
from simrec_node.mcap.records import (
    PARSE_ERRORS,
    ChunkIndexRecord,
    Opcode,
    parse_message_index,
    parse_metadata,
    record_span,
)

from .facts import ChannelFacts, LogFacts


def read_indexed(file: LogFile, *, detail: bool = True) -> LogFacts:
    """Gather facts from the summary section of ``file`` (which has one: ``file.indexed``).

    ``detail`` adds what takes reads outside the summary section: each channel's first and last
    log and publish time (message indexes, message heads) and the metadata records."""
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
    if detail:
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

    # message index offset -> (first time, its offset in the chunk, last time, its offset)
    cache: dict[int, tuple[int, int, int, int] | None] = {}

    def span(ci: ChunkIndexRecord, cid: int) -> tuple[int, int, int, int] | None:
        offset = ci.message_index_offsets[cid]
        if offset not in cache:
            try:
                pairs = parse_message_index(file.buf, offset, file.size, cid)
            except PARSE_ERRORS:
                facts.warnings.append(
                    f"the message index at byte {offset} is unreadable; topic times may be off"
                )
                pairs = None
            if pairs is None or not pairs.size:
                cache[offset] = None
            else:
                lo, hi = int(pairs[:, 0].argmin()), int(pairs[:, 0].argmax())
                cache[offset] = (int(pairs[lo, 0]), int(pairs[lo, 1]), int(pairs[hi, 0]), int(pairs[hi, 1]))
        return cache[offset]

    # chunk offset -> {offset in the chunk: (channel id, log time, is it the first message)}
    wanted: dict[int, dict[int, list[tuple[int, int, bool]]]] = {}
    by_start = sorted(chunks, key=lambda c: c.start_time)
    by_end = sorted(chunks, key=lambda c: c.end_time, reverse=True)
    for cid, ch in facts.channels.items():
        first: tuple[int, int, int] | None = None  # (log time, chunk offset, offset in the chunk)
        for ci in by_start:
            if first is not None and ci.start_time >= first[0]:
                break  # chunks are sorted: no later one can start earlier
            if cid not in ci.message_index_offsets:
                continue
            if (found := span(ci, cid)) is not None and (first is None or found[0] < first[0]):
                first = (found[0], ci.chunk_offset, found[1])
        last: tuple[int, int, int] | None = None
        for ci in by_end:
            if last is not None and ci.end_time <= last[0]:
                break
            if cid not in ci.message_index_offsets:
                continue
            if (found := span(ci, cid)) is not None and (last is None or found[2] > last[0]):
                last = (found[2], ci.chunk_offset, found[3])
        ch.first_time_ns = first[0] if first is not None else None
        ch.last_time_ns = last[0] if last is not None else None
        if first is not None and last is not None and ch.count >= 2:
            for (t, chunk, at), is_first in ((first, True), (last, False)):
                wanted.setdefault(chunk, {}).setdefault(at, []).append((cid, t, is_first))
    _fill_publish_times(file, wanted, facts)


def _fill_publish_times(
    file: LogFile, wanted: dict[int, dict[int, list[tuple[int, int, bool]]]], facts: LogFacts
) -> None:
    """Each channel's first and last publish_time, so that `info` can give rates over sim time.
    They are not in the summary: each is read from its Message record's head, found through the
    message index (a few bytes of a stored chunk; the start of a compressed one, up to the
    message, each chunk once), and kept only where the head's channel and log time match the
    index's."""
    for chunk, at in wanted.items():
        heads = file.message_heads(chunk, at)
        for offset, users in at.items():
            head = heads.get(offset)
            for cid, log_time, is_first in users:
                if head is None or head[0] != cid or head[2] != log_time:
                    continue
                ch = facts.channels[cid]
                if is_first:
                    ch.first_publish_ns = head[3]
                else:
                    ch.last_publish_ns = head[3]


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
            body = record_span(file.buf, mi.offset, file.size, Opcode.METADATA)
            facts.metadata.append(parse_metadata(file.buf, *body))
        except PARSE_ERRORS:
            facts.warnings.append(f"the metadata record {mi.name!r} at byte {mi.offset} is unreadable")
