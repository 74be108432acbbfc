"""MCAP files for the recover/doctor tests, and an independent look at their chunks.

Logs are written with simrec's McapWriter (as the recorder writes them) or with mcap's own
Writer (channels repeated in every chunk, lz4, loose messages); the expected contents are read
back with mcap's StreamReader, not with the code under test.
"""

from __future__ import annotations

import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mcap.reader import make_reader
from mcap.records import Chunk, Message, Metadata
from mcap.stream_reader import StreamReader, breakup_chunk
from mcap.writer import CompressionType, Writer

from simrec_node.record import McapWriter

from .conftest import simrec_command

T0 = 1_700_000_000_000_000_000
TOPICS = ("/sim/state", "/clock", "/camera/rgb")
METADATA = {
    "simrec.recording": {"command_line": "simrec record -a", "host": "box"},
    "simrec.meta": {"task": "x"},
}

# (topic, sequence, log_time, publish_time, payload)
Row = tuple[str, int, int, int, bytes]


def payload(rng: random.Random, topic: str, i: int) -> bytes:
    """Mostly small; camera frames large (some over the writer's 64 KiB by-reference size)."""
    if topic == "/camera/rgb":
        return rng.randbytes(1_000) * (70 if i % 3 == 0 else 5)  # compressible, like real frames
    return f"{topic}:{i}:".encode() * 4 + rng.randbytes(rng.randrange(0, 40))


def write_simrec_log(
    path: Path, count: int = 600, *, compression: str = "zstd", chunk_size: int = 16_384
) -> list[Row]:
    """A log as the recorder writes it: schemas/channels up front, metadata first and last."""
    rng = random.Random(7)
    rows: list[Row] = []
    with McapWriter(path, compression=compression, chunk_size=chunk_size) as w:
        w.add_metadata("simrec.recording", METADATA["simrec.recording"])
        schema = w.add_schema("test.Blob", "protobuf", b"\x0a\x03abc")
        ids = {t: w.add_channel(t, "protobuf", schema, {"k": t}) for t in TOPICS}
        for i in range(count):
            topic = TOPICS[i % 3] if i % 10 else "/camera/rgb"
            row = (topic, i, T0 + i * 1_000_000, T0 + i * 1_000_000 - 500, payload(rng, topic, i))
            w.write(ids[topic], row[1], row[2], row[3], row[4])
            rows.append(row)
        w.add_metadata("simrec.meta", METADATA["simrec.meta"])
    return rows


def write_mcap_log(path: Path, count: int = 300, *, chunked: bool = True) -> list[Row]:
    """A log from mcap's own Writer: lz4, channels repeated per chunk, or no chunks at all."""
    rng = random.Random(11)
    rows: list[Row] = []
    with open(path, "wb") as f:
        w = Writer(f, chunk_size=4096, compression=CompressionType.LZ4, use_chunking=chunked)
        w.start(profile="", library="mcap-test")
        w.add_metadata("simrec.recording", METADATA["simrec.recording"])
        schema = w.register_schema("test.Blob", "protobuf", b"\x0a\x03abc")
        ids = {t: w.register_channel(t, "protobuf", schema) for t in TOPICS[:2]}
        for i in range(count):
            topic = TOPICS[i % 2]
            row = (topic, i, T0 + i * 1000, T0 + i * 1000, payload(rng, topic, i))
            w.add_message(ids[topic], row[2], row[4], row[3], sequence=row[1])
            rows.append(row)
        w.finish()
    return rows


@dataclass(frozen=True)
class ChunkSpan:
    start: int  # offset of the Chunk record
    end: int  # offset just past it
    messages: int


def chunk_spans(path: Path) -> list[ChunkSpan]:
    """Every chunk of a healthy file, read with mcap's StreamReader."""
    spans = []
    with open(path, "rb") as f:
        reader = StreamReader(f, emit_chunks=True)
        before = f.tell()
        for record in reader.records:
            if isinstance(record, Chunk):
                n = sum(isinstance(r, Message) for r in breakup_chunk(record))
                spans.append(ChunkSpan(before, f.tell(), n))
            before = f.tell()
    return spans


def read_rows(path: Path) -> list[Row]:
    """All messages of a file with mcap's reader (it must read it to the end)."""
    with open(path, "rb") as f:
        return [
            (channel.topic, m.sequence, m.log_time, m.publish_time, m.data)
            for _, channel, m in make_reader(f).iter_messages(log_time_order=False)
        ]


def read_metadata(path: Path) -> dict[str, dict[str, str]]:
    with open(path, "rb") as f:
        return {m.name: dict(m.metadata) for m in make_reader(f).iter_metadata()}


def loose_metadata(path: Path) -> list[Metadata]:
    with open(path, "rb") as f:
        return [r for r in StreamReader(f).records if isinstance(r, Metadata)]


def run_simrec(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(simrec_command(*args), capture_output=True, text=True, timeout=timeout)
