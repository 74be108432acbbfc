"""Fallback for files without a usable summary section: every chunk read front to back.

A recorder that crashed (or is still running) leaves a file with no footer and usually a
half-written record at the end. The scan counts every message in the chunks that decompress
and check, goes on past damaged ones (the reader's damage policy), and says where it stopped.
"""

from __future__ import annotations

from simrec_node.logs import LogFile
from simrec_node.mcap import metadata as names

from .facts import ChannelFacts, LogFacts


def scan(file: LogFile) -> tuple[LogFacts, list[str]]:
    """Facts counted from the data section, and one line per place it could not be read."""
    layout, found = file.layout(), file.scan()
    facts = LogFacts(library=file.library, profile=file.profile, indexed=False)
    facts.chunk_count = found.chunk_count
    facts.compression = set(found.compression)
    facts.metadata = [(n, v) for n, v in layout.metadata if n in names.KNOWN]
    for cid in sorted(set(found.channels) | set(found.counts)):
        channel = found.channels.get(cid)
        schema = found.schemas.get(channel.schema_id) if channel is not None else None
        facts.channels[cid] = ChannelFacts(
            topic=channel.topic if channel is not None else f"<unknown channel {cid}>",
            type_name=schema.name if schema else "",
            message_encoding=channel.message_encoding if channel is not None else "",
            count=found.counts.get(cid, 0),
        )
        if cid in found.first:
            ch = facts.channels[cid]
            ch.first_time_ns, ch.first_publish_ns = found.first[cid]
            ch.last_time_ns, ch.last_publish_ns = found.last[cid]
    facts.message_count = sum(found.counts.values())
    if found.first:
        facts.start_ns = min(t for t, _ in found.first.values())
        facts.end_ns = max(t for t, _ in found.last.values())
    where = [
        f"chunk at byte {offset} of {file.size} is corrupt ({reason}); its messages were skipped"
        for offset, reason in found.damaged
    ]
    where += [damage.describe(file.size) for damage in layout.breaks if damage.resumed_at is not None]
    return facts, where
