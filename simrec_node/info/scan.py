"""Fallback for files without a usable summary section: read the data section front to back.

A recorder that crashed (or is still running) leaves a file with no footer and usually a
half-written record at the end. The scan counts every message in records that are complete and
stops at the first record it cannot read, reporting where.
"""

from __future__ import annotations

from typing import BinaryIO

from mcap.records import Channel, Chunk, Footer, Header, Message, Metadata, Schema
from mcap.stream_reader import StreamReader, breakup_chunk

from simrec_node.errors import SimrecError

from .facts import DECODE_ERRORS, KNOWN_META, ChannelFacts, LogFacts, describe_error


class ScanError(SimrecError):
    """The scan could not even read the MCAP header; carries the byte offset and the reason."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


class _Scanner:
    def __init__(self) -> None:
        self.facts = LogFacts(indexed=False)
        self.schemas: dict[int, Schema] = {}
        self.channel_schema: dict[int, int] = {}

    def handle(self, record: object) -> None:
        if isinstance(record, Message):
            self._message(record)
        elif isinstance(record, Channel):
            self._channel(record)
        elif isinstance(record, Schema):
            self.schemas[record.id] = record
            # A schema can arrive after a channel that references it (unusual, but legal).
            for cid, sid in self.channel_schema.items():
                if sid == record.id:
                    self.facts.channels[cid].type_name = record.name
        elif isinstance(record, Metadata):
            if record.name in KNOWN_META:
                self.facts.metadata.append((record.name, dict(record.metadata)))
        elif isinstance(record, Header):
            self.facts.library = record.library
            self.facts.profile = record.profile

    def _channel(self, channel: Channel) -> None:
        if channel.id in self.facts.channels:
            return  # channels are repeated in every chunk
        schema = self.schemas.get(channel.schema_id)
        self.channel_schema[channel.id] = channel.schema_id
        self.facts.channels[channel.id] = ChannelFacts(
            topic=channel.topic,
            type_name=schema.name if schema else "",
            message_encoding=channel.message_encoding,
        )

    def _message(self, msg: Message) -> None:
        facts = self.facts
        ch = facts.channels.get(msg.channel_id)
        if ch is None:  # channel record lost; still count the message
            ch = facts.channels[msg.channel_id] = ChannelFacts(
                topic=f"<unknown channel {msg.channel_id}>", type_name="", message_encoding=""
            )
        t = msg.log_time
        ch.count += 1
        ch.first_time_ns = t if ch.first_time_ns is None else min(ch.first_time_ns, t)
        ch.last_time_ns = t if ch.last_time_ns is None else max(ch.last_time_ns, t)
        facts.message_count += 1
        facts.start_ns = t if facts.start_ns is None else min(facts.start_ns, t)
        facts.end_ns = t if facts.end_ns is None else max(facts.end_ns, t)


def scan(f: BinaryIO, size: int) -> tuple[LogFacts, int, str | None]:
    """Count messages and read metadata from the start of ``f``.

    Returns ``(facts, good_end, stop_reason)``: ``good_end`` is the byte offset just past the last
    complete record, ``stop_reason`` is None when the scan reached a footer. Raises `ScanError`
    when not even the header can be read.
    """
    f.seek(0)
    scanner = _Scanner()
    # Limiting record lengths to the file size turns garbage lengths into an error, not a huge read.
    reader = StreamReader(f, emit_chunks=True, record_size_limit=max(size, 1))
    good_end = len(b"\x89MCAP0\r\n")
    seen_header = False
    try:
        for record in reader.records:
            if not seen_header:
                if not isinstance(record, Header):
                    raise ScanError(good_end, f"expected a Header record, found {type(record).__name__}")
                seen_header = True
            if isinstance(record, Chunk):
                # Decode fully before counting so a corrupt chunk contributes nothing.
                inner = breakup_chunk(record, validate_crc=True)
                for item in inner:
                    scanner.handle(item)
                scanner.facts.chunk_count += 1
                scanner.facts.compression.add(record.compression or "none")
            else:
                scanner.handle(record)
            good_end = f.tell()
            if isinstance(record, Footer):
                return scanner.facts, good_end, None
    except DECODE_ERRORS as exc:
        if not seen_header:
            raise ScanError(good_end, describe_error(exc)) from exc
        return scanner.facts, good_end, describe_error(exc)
    # StreamReader only stops after a footer; reaching here means it was consumed above.
    return scanner.facts, good_end, None
