"""`simrec recover`: rebuild a valid, indexed MCAP file from a damaged or unfinished one.

One pass over the damaged file (``DataWalk``, run a few chunks ahead on a second thread, which
decompresses each chunk and checks its CRC): every Schema, Channel and Metadata record goes to
simrec's own ``McapWriter``. A verified chunk whose channel and schema ids mean the same in the
output (the usual case: the writer hands out ids in the order the file defined them) is copied
as is with ``McapWriter.add_chunk``, its MessageIndex records rebuilt: no recompression. Other
chunks, and loose Message records, are rewritten message by message (payload bytes copied, never
decoded) and re-chunked by the writer. The writer writes the summary. The output is written
under a temporary name and renamed when complete.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from simrec_node.mcap import McapWriter
from simrec_node.mcap.crc import crc32
from simrec_node.mcap.records import (
    MAGIC,
    MESSAGE_HEAD,
    PARSE_ERRORS,
    PREFIX,
    U16,
    ChannelRecord,
    Opcode,
    SchemaRecord,
    opcode_name,
    parse_channel,
    parse_header,
    parse_metadata,
    parse_schema,
)
from simrec_node.mcap.source import mapped, read_footer, same_file
from simrec_node.mcap.walk import Break, DataWalk, Item

from .ahead import ahead
from .doctor import check_buffer
from .errors import RepairError

_PEEK_RECORDS = 10_000  # records framed to find the input's compression
Progress = Callable[[int, int, int], None]  # (bytes read, file size, messages so far)


@dataclass
class RecoveryReport:
    """What ``recover`` did. ``complete`` means the input needed no recovery (nothing written)."""

    source: str
    output: str | None
    size: int
    complete: bool = False
    messages: int = 0
    topics: dict[str, int] = field(default_factory=dict)
    chunks: int = 0
    metadata: int = 0
    breaks: list[Break] = field(default_factory=list)
    unclosed_at: int | None = None  # the data ended here, cleanly, but without DataEnd/footer
    orphans: int = 0  # messages whose Channel record was lost
    duplicates: int = 0  # chunks that repeat one already copied, dropped
    compression: str = "zstd"
    seconds: float = 0.0

    @property
    def mb_per_s(self) -> float:
        return self.size / 1e6 / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        """The report as ``simrec recover`` prints it."""
        if self.complete:
            return [f"{self.source} is a complete MCAP file; nothing to recover"]
        out = [
            f"recovered {self.messages} message(s) on {len(self.topics)} topic(s) and "
            f"{self.metadata} metadata record(s) from {self.source} into {self.output} "
            f"({self.size / 1e6:.1f} MB read in {self.seconds:.2f} s, {self.mb_per_s:.0f} MB/s)"
        ]
        width = max((len(t) for t in self.topics), default=0)
        out += [f"  {topic:<{width}}  {count}" for topic, count in sorted(self.topics.items())]
        for damage in self.breaks:
            out.append(
                ("file broke: " if damage is self.breaks[0] else "then: ") + damage.describe(self.size)
            )
        if self.unclosed_at is not None:
            out.append(
                f"file ends at byte {self.unclosed_at} after complete records, without DataEnd/footer "
                "(the writer never closed it)"
            )
        if not self.breaks and self.unclosed_at is None:
            out.append("data section intact; rebuilt the index and summary")
        skipped = [d for d in self.breaks if d.resumed_at is not None]
        if skipped:
            out.append(f"skipped {len(skipped)} damaged region(s) and continued past them")
        if self.duplicates:
            out.append(f"dropped {self.duplicates} chunk(s) that repeat one already copied")
        if self.orphans:
            out.append(f"dropped {self.orphans} message(s) whose Channel record was lost")
        return out


def recover(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
    rechunk: bool = False,
) -> RecoveryReport:
    """Recover ``source`` into ``output``; RepairError (one line) for bad input or output paths.

    ``rechunk`` rewrites every message instead of copying verified chunks as they are (slower;
    the output then uses one compression throughout)."""
    src, dst = Path(source), Path(output)
    began = time.perf_counter()
    with mapped(src, RepairError) as (buf, size):
        _check_output(src, dst, overwrite)
        report = RecoveryReport(os.fspath(src), os.fspath(dst), size)
        if read_footer(buf, size) is not None and check_buffer(buf, size, report.source).healthy:
            report.output = None
            report.complete = True
            return report
        profile, library, compression = _peek(buf, size)
        report.compression = compression
        fd, tmp = _create_beside(dst)
        try:
            with os.fdopen(fd, "wb") as fh:
                writer = McapWriter(fh, compression=compression, profile=profile, library=library)
                _Copier(buf, size, writer, report, progress, copy_chunks=not rechunk).run()
                writer.close()
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, dst)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise RepairError(f"writing {dst} failed: {exc.strerror or exc}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    report.seconds = time.perf_counter() - began
    return report


def _create_beside(dst: Path) -> tuple[int, Path]:
    """A new temporary file next to ``dst`` with the mode every other output gets (0666 less the
    umask: 0644 as a rule), not mkstemp's 0600; a place the system refuses is one RepairError line."""
    for _ in range(100):
        tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}.part")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:
            continue
        except OSError as exc:
            raise RepairError(f"cannot create {dst}: {exc.strerror or exc}") from None
    raise RepairError(f"cannot create {dst}: no free temporary name beside it")


def _check_output(src: Path, dst: Path, overwrite: bool) -> None:
    if same_file(src, dst):
        raise RepairError(f"the output {dst} is the input file; write the recovered file elsewhere")
    if dst.is_dir():
        raise RepairError(f"the output {dst} is a directory: give a file name such as {dst / 'fixed.mcap'}")
    if dst.exists() and not overwrite:
        raise RepairError(f"{dst} already exists: choose another name or pass --overwrite")
    parent = dst.parent
    if not parent.is_dir():
        raise RepairError(f"cannot write {dst}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise RepairError(f"cannot write {dst}: directory {parent} is not writable")


def _peek(buf: object, size: int) -> tuple[str, str, str]:
    """Header profile/library and the compression of the first compressed chunk, by framing alone
    (no decompression). Writers store incompressible chunks raw, so the first chunk may say none."""
    profile, library, compression = "", "simrec", ""
    walk = DataWalk(buf, len(MAGIC), size, verify=False)
    for item in itertools.islice(walk, _PEEK_RECORDS):
        if walk.breaks:
            break  # damage here is the main walk's to report
        if item.opcode == Opcode.HEADER:
            with contextlib.suppress(*PARSE_ERRORS):
                profile, library = parse_header(buf, item.body_start, item.body_end)
        elif item.chunk is not None and item.chunk.compression:
            compression = item.chunk.compression
            break
    return profile, library or "simrec", compression if compression in ("zstd", "lz4") else "none"


class _Copier:
    """Feeds the walk's records to the writer, mapping the input's schema/channel ids to its own."""

    def __init__(
        self,
        buf: object,
        size: int,
        writer: McapWriter,
        report: RecoveryReport,
        progress: Progress | None,
        *,
        copy_chunks: bool = True,
    ) -> None:
        self.buf = buf
        self.size = size
        self.writer = writer
        self.report = report
        self.progress = progress
        self.schema_ids: dict[int, int] = {}  # input schema id -> output schema id
        self.channel_ids: dict[int, int] = {}  # input channel id -> output channel id
        self.waiting: dict[int, ChannelRecord] = {}  # channels whose schema has not been seen yet
        self.topics: list[str] = [""]  # output channel id -> topic
        self.counts: list[int] = [0]  # output channel id -> messages written
        self.copy_chunks = copy_chunks
        self.copied: set[tuple[int, int, int, int]] = set()  # chunks written, to drop repeats
        # Input ids that mean the same in the output (a channel: same id and same schema id).
        self.same_schemas: set[int] = set()
        self.same_channels: set[int] = set()

    def run(self) -> None:
        walk = DataWalk(self.buf, len(MAGIC), self.size)
        report, progress = self.report, self.progress
        # Closed explicitly: an error here must stop the reading thread before the map closes.
        with closing(ahead(walk, name="simrec-recover-read")) as items:
            for item in items:
                if item.chunk is not None:
                    if self._seen_before(item):
                        continue
                    if not (self.copy_chunks and self._copy_chunk(item)):
                        self._chunk(item.records, item.inner)
                    report.chunks += 1
                    if progress is not None:
                        progress(walk.position, self.size, sum(self.counts))
                else:
                    self._record(item.offset, item.opcode, self.buf, item.body_start, item.body_end, walk)
        report.breaks = sorted(walk.breaks, key=lambda b: b.offset)  # both threads add to it
        if walk.stopped_at is None and not walk.breaks:
            report.unclosed_at = self.size
        for cid, count in enumerate(self.counts):
            if count:
                report.topics[self.topics[cid]] = report.topics.get(self.topics[cid], 0) + count
        report.messages = sum(self.counts)
        if progress is not None:
            progress(self.size, self.size, report.messages)

    def _seen_before(self, item: Item) -> bool:
        """Whether the same chunk (same times, size and records) was already copied: a file can
        hold a chunk twice (a writer that retried, a copy gone wrong); recover keeps it once."""
        head = item.chunk
        assert head is not None and item.records is not None
        key = (head.start_time, head.end_time, head.uncompressed_size, head.crc or crc32(item.records))
        if key in self.copied:
            self.report.duplicates += 1
            return True
        self.copied.add(key)
        return False

    def _copy_chunk(self, item: Item) -> bool:
        """Copy a verified chunk unchanged, with a rebuilt message index, when every id in it means
        the same in the output and its times match its messages; False (nothing written) if not.
        Schema/Channel records in it are registered either way (that is idempotent)."""
        records = item.records
        unpack = MESSAGE_HEAD.unpack_from
        same_channels = self.same_channels
        index: dict[int, list[int]] = {}
        message = int(Opcode.MESSAGE)
        for opcode, start, end in item.inner:
            if opcode == message:
                cid, _, log_time, _ = unpack(records, start)
                entries = index.get(cid)
                if entries is None:
                    if cid not in same_channels:
                        return False
                    entries = index[cid] = []
                entries += (log_time, start - PREFIX.size)
            elif opcode in (Opcode.SCHEMA, Opcode.CHANNEL):
                self._record(-1, opcode, records, start, end, None)
                (rid,) = U16.unpack_from(records, start)
                if rid not in (self.same_schemas if opcode == Opcode.SCHEMA else same_channels):
                    return False
            else:
                return False
        if not index:
            return False
        head = item.chunk
        assert head is not None
        times = [t for entries in index.values() for t in (min(entries[0::2]), max(entries[0::2]))]
        if min(times) != head.start_time or max(times) != head.end_time:
            return False
        with memoryview(self.buf) as whole, whole[item.offset : item.body_end] as record:  # type: ignore[arg-type]
            self.writer.add_chunk(record, index)
        for cid, entries in index.items():
            self.counts[cid] += len(entries) // 2
        return True

    def _chunk(self, records: bytes | memoryview, inner: list) -> None:
        """The hot loop: one unpack and one write per message, the payload a view of the chunk."""
        view = memoryview(records)
        unpack = MESSAGE_HEAD.unpack_from
        write = self.writer.write
        channel_ids = self.channel_ids
        counts = self.counts
        skip = MESSAGE_HEAD.size
        message = int(Opcode.MESSAGE)
        for opcode, start, end in inner:
            if opcode == message:
                cid, sequence, log_time, publish_time = unpack(records, start)
                out = channel_ids.get(cid)
                if out is None:
                    out = self._late_channel(cid)
                    if out is None:
                        continue
                write(out, sequence, log_time, publish_time, view[start + skip : end])
                counts[out] += 1
            else:
                self._record(-1, opcode, records, start, end, None)

    def _record(
        self, offset: int, opcode: int, buf: object, start: int, end: int, walk: DataWalk | None
    ) -> None:
        try:
            if opcode == Opcode.SCHEMA:
                self._schema(parse_schema(buf, start, end))
            elif opcode == Opcode.CHANNEL:
                self._channel(parse_channel(buf, start, end))
            elif opcode == Opcode.METADATA:
                name, values = parse_metadata(buf, start, end)
                self.writer.add_metadata(name, values)
                self.report.metadata += 1
            elif opcode == Opcode.MESSAGE:
                self._chunk(
                    buf[start - PREFIX.size : end], [(opcode, PREFIX.size, end - start + PREFIX.size)]
                )
        except PARSE_ERRORS as exc:
            if walk is not None:  # records inside a CRC-checked chunk do not get here malformed
                walk.breaks.append(Break(offset, f"malformed {opcode_name(opcode)} record ({exc})", end))

    def _schema(self, schema: SchemaRecord) -> None:
        if schema.id in self.schema_ids or schema.id == 0:
            return
        self.schema_ids[schema.id] = self.writer.add_schema(schema.name, schema.encoding, schema.data)
        if self.schema_ids[schema.id] == schema.id:
            self.same_schemas.add(schema.id)
        for cid, channel in list(self.waiting.items()):
            if channel.schema_id == schema.id:
                del self.waiting[cid]
                self._add_channel(channel, self.schema_ids[schema.id])

    def _channel(self, channel: ChannelRecord) -> None:
        if channel.id in self.channel_ids or channel.id in self.waiting:
            return  # writers may repeat channels in every chunk
        if channel.schema_id == 0:
            self._add_channel(channel, 0)
        elif channel.schema_id in self.schema_ids:
            self._add_channel(channel, self.schema_ids[channel.schema_id])
        else:
            self.waiting[channel.id] = channel

    def _late_channel(self, cid: int) -> int | None:
        """A message on a channel whose schema never showed up is kept schemaless; one whose
        Channel record was lost is dropped (its topic is unknown)."""
        channel = self.waiting.pop(cid, None)
        if channel is None:
            self.report.orphans += 1
            return None
        return self._add_channel(channel, 0)

    def _add_channel(self, channel: ChannelRecord, schema_id: int) -> int:
        out = self.writer.add_channel(channel.topic, channel.message_encoding, schema_id, channel.metadata)
        self.channel_ids[channel.id] = out
        if out == channel.id and schema_id == channel.schema_id:
            self.same_channels.add(channel.id)
        self.topics.append(channel.topic)
        self.counts.append(0)
        return out
