"""``recover``'s fast path (verified chunks copied as they are, with ``McapWriter.add_chunk``)
against its slow path (``rechunk=True``: every message rewritten), and ``add_chunk`` itself."""

from __future__ import annotations

import struct
import threading
import zlib
from collections import Counter
from pathlib import Path

import pytest
import zstandard
from mcap.reader import make_reader
from mcap.records import Chunk, Message, MessageIndex
from mcap.stream_reader import StreamReader
from mcap.writer import CompressionType, Writer

from simrec_node.record import McapWriter
from simrec_node.repair import check, recover
from simrec_node.repair.ahead import ahead

from .mcap_interop import node_validate
from .repair_logs import T0, chunk_spans, read_rows, run_simrec, write_mcap_log, write_simrec_log

Row = tuple[str, int, int, int, bytes]


def cut(src: Path, dst: Path, size: int) -> Path:
    dst.write_bytes(src.read_bytes()[:size])
    return dst


def chunk_bytes(path: Path) -> list[bytes]:
    """The Chunk records of a file, byte for byte (located with mcap's StreamReader)."""
    raw = path.read_bytes()
    return [raw[s.start : s.end] for s in chunk_spans(path)]


def validated_rows(path: Path) -> list[Row]:
    """Messages read with every CRC checked, after checking the summary against them."""
    with open(path, "rb") as f:
        reader = make_reader(f, validate_crcs=True)
        summary = reader.get_summary()
        rows = [
            (channel.topic, m.sequence, m.log_time, m.publish_time, m.data)
            for _, channel, m in reader.iter_messages(log_time_order=False)
        ]
        per_channel = Counter(channel.id for _, channel, _ in reader.iter_messages(log_time_order=False))
    assert summary is not None
    stats = summary.statistics
    assert stats.message_count == len(rows)
    assert {k: v for k, v in stats.channel_message_counts.items() if v} == dict(per_channel)
    assert stats.chunk_count == len(summary.chunk_indexes)
    if rows:
        assert stats.message_start_time == min(r[2] for r in rows)
        assert stats.message_end_time == max(r[2] for r in rows)
    with open(path, "rb") as f:  # every record, every chunk CRC and every MessageIndex entry
        indexed = sum(
            len(r.records) for r in StreamReader(f, validate_crcs=True).records if isinstance(r, MessageIndex)
        )
    assert indexed == len(rows)
    return rows


def assert_fast_equals_slow(broken: Path, tmp_path: Path) -> tuple[Path, list[Row]]:
    fast, slow = tmp_path / f"{broken.stem}_fast.mcap", tmp_path / f"{broken.stem}_slow.mcap"
    fast_report = recover(broken, fast)
    slow_report = recover(broken, slow, rechunk=True)
    rows = validated_rows(fast)
    assert rows == validated_rows(slow) and rows
    assert Counter(r[0] for r in rows) == Counter(r[0] for r in read_rows(slow))
    assert fast_report.topics == slow_report.topics and fast_report.messages == len(rows)
    assert check(fast).healthy, check(fast).lines()
    assert node_validate(fast)["messageCount"] == len(rows)
    return fast, rows


def test_simrec_log_chunks_are_copied_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "run.mcap"
    all_rows = write_simrec_log(path)
    spans = chunk_spans(path)
    broken = cut(path, tmp_path / "broken.mcap", spans[-3].end + 7)
    fast, rows = assert_fast_equals_slow(broken, tmp_path)
    assert rows == all_rows[: len(rows)] and len(rows) == sum(s.messages for s in spans[:-2])
    # Every surviving chunk is in the output byte for byte: nothing was recompressed.
    assert chunk_bytes(fast) == chunk_bytes(path)[:-2]
    doctor = run_simrec("doctor", str(fast))
    assert doctor.returncode == 0 and "healthy" in doctor.stdout, doctor.stdout + doctor.stderr


def test_mcap_library_lz4_chunks_with_channels_inside_are_copied(tmp_path: Path) -> None:
    path = tmp_path / "lz4.mcap"
    write_mcap_log(path)
    spans = chunk_spans(path)
    broken = cut(path, tmp_path / "lz4_cut.mcap", spans[-2].end + 3)
    fast, _ = assert_fast_equals_slow(broken, tmp_path)
    assert chunk_bytes(fast) == chunk_bytes(path)[:-1]
    with open(fast, "rb") as f:
        assert {ci.compression for ci in make_reader(f).get_summary().chunk_indexes} == {"lz4"}


def test_corrupt_chunk_and_loose_messages_mix_with_copied_chunks(tmp_path: Path) -> None:
    path = tmp_path / "run.mcap"
    write_simrec_log(path)
    spans = chunk_spans(path)
    raw = bytearray(path.read_bytes()[: spans[-1].end])
    bad = spans[4]
    raw[bad.end - 40 : bad.end - 36] = b"\xde\xad\xbe\xef"
    # Loose Message records after the chunks (channel 1 exists; the fast path must close around them).
    for i in range(5):
        body = struct.pack("<HIQQ", 1, 10_000 + i, T0 + 10**12 + i, T0 + i) + b"loose%d" % i
        raw += struct.pack("<BQ", 0x05, len(body)) + body
    broken = tmp_path / "mixed.mcap"
    broken.write_bytes(bytes(raw))
    fast, rows = assert_fast_equals_slow(broken, tmp_path)
    assert [r[4] for r in rows[-5:]] == [b"loose%d" % i for i in range(5)]
    copied = chunk_bytes(fast)
    assert all(c in copied for c in chunk_bytes(path)[:4] + chunk_bytes(path)[5:])


def test_channel_ids_that_differ_in_the_output_take_the_slow_path(tmp_path: Path) -> None:
    """mcap's Writer gives a repeated schema a new id; ours shares one, so the second channel's
    schema id changes and its chunks must be rewritten, not copied."""
    path = tmp_path / "dup.mcap"
    with open(path, "wb") as f:
        w = Writer(f, chunk_size=2048, compression=CompressionType.ZSTD)
        w.start()
        channels = [
            w.register_channel(f"/t{k}", "protobuf", w.register_schema("a.B", "protobuf", b"x"))
            for k in range(2)
        ]
        for i in range(200):
            w.add_message(channels[i % 2], T0 + i, b"m%d" % i * 20, T0 + i, sequence=i)
        w.finish()
    broken = cut(path, tmp_path / "dup_cut.mcap", chunk_spans(path)[-1].end)
    fast, rows = assert_fast_equals_slow(broken, tmp_path)
    assert len(rows) == 200 and Counter(r[0] for r in rows) == {"/t0": 100, "/t1": 100}
    assert not set(chunk_bytes(fast)) & set(chunk_bytes(path))  # rechunked: none copied


def test_error_while_copying_stops_the_reader_and_leaves_no_output(tmp_path: Path) -> None:
    path = tmp_path / "run.mcap"
    write_simrec_log(path)
    broken = cut(path, tmp_path / "broken.mcap", chunk_spans(path)[-2].end + 5)
    calls = []

    def progress(done: int, size: int, messages: int) -> None:
        calls.append(messages)
        if len(calls) == 2:
            raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        recover(broken, tmp_path / "out.mcap", progress=progress)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mcap", "run.mcap"]
    assert not [t for t in threading.enumerate() if t.name == "simrec-recover-read"]
    assert calls[1] > calls[0] > 0


def test_ahead_keeps_order_and_raises_the_producers_error() -> None:
    def items():
        yield from range(50)
        raise ValueError("bad byte")

    got = []
    with pytest.raises(ValueError, match="bad byte"):
        got.extend(ahead(items(), depth=2))
    assert got == list(range(50))


# ------------------------------------------------------------------ McapWriter.add_chunk


def chunk_record(records: bytes, compression: str, start: int, end: int) -> bytes:
    data = zstandard.ZstdCompressor().compress(records) if compression == "zstd" else records
    body = struct.pack("<QQQI", start, end, len(records), zlib.crc32(records))
    body += struct.pack("<I", len(compression)) + compression.encode() + struct.pack("<Q", len(data)) + data
    return struct.pack("<BQ", 0x06, len(body)) + body


def message(channel_id: int, sequence: int, log_time: int, data: bytes) -> bytes:
    body = struct.pack("<HIQQ", channel_id, sequence, log_time, log_time - 1) + data
    return struct.pack("<BQ", 0x05, len(body)) + body


@pytest.mark.parametrize("compression", ["zstd", ""])
def test_add_chunk_writes_the_record_as_given_and_indexes_it(tmp_path: Path, compression: str) -> None:
    path = tmp_path / "added.mcap"
    with McapWriter(path, compression="zstd", chunk_size=1 << 20) as w:
        schema = w.add_schema("a.B", "protobuf", b"x")
        a, b = w.add_channel("/a", "protobuf", schema), w.add_channel("/b", "protobuf", schema)
        w.write(a, 0, T0, T0, b"before")  # in the open chunk: written before the added one
        records, index = b"", {a: [], b: []}
        for i in range(1, 9):
            cid = a if i % 3 else b
            index[cid] += [T0 + i, len(records)]
            records += message(cid, i, T0 + i, b"payload%d" % i)
        record = chunk_record(records, compression, T0 + 1, T0 + 8)
        w.add_chunk(memoryview(record), index)
        w.write(b, 9, T0 + 9, T0 + 9, b"after")
        assert w.message_count == 10
    assert record in path.read_bytes()
    rows = validated_rows(path)
    assert [r[1] for r in rows] == list(range(10))
    assert rows[3] == ("/b", 3, T0 + 3, T0 + 2, b"payload3")
    with open(path, "rb") as f:
        summary = make_reader(f).get_summary()
    added = summary.chunk_indexes[1]
    assert (added.message_start_time, added.message_end_time, added.compression) == (
        T0 + 1,
        T0 + 8,
        compression,
    )
    assert added.uncompressed_size == len(records) and added.chunk_length == len(record)
    assert summary.statistics.channel_message_counts == {a: 7, b: 3}
    with open(path, "rb") as f:  # the MessageIndex offsets point at the messages
        recs = list(StreamReader(f, validate_crcs=True, emit_chunks=True).records)
    first = recs.index(next(r for r in recs if isinstance(r, Chunk) and r.uncompressed_size == len(records)))
    assert {r.channel_id: r.records for r in recs[first + 1 : first + 3]} == {
        cid: list(zip(entries[0::2], entries[1::2], strict=True)) for cid, entries in index.items()
    }
    assert node_validate(path)["messageCount"] == 10
    assert [isinstance(r, Chunk) for r in recs].count(True) == 3  # before, added, after
    assert not any(isinstance(r, Message) for r in recs)


def test_add_chunk_rejects_what_it_cannot_index(tmp_path: Path) -> None:
    record = chunk_record(message(1, 0, T0, b"x"), "", T0, T0)
    with McapWriter(tmp_path / "bad.mcap") as w:
        cid = w.add_channel("/a", "raw", 0)
        with pytest.raises(ValueError, match="unknown channel"):
            w.add_chunk(record, {7: [T0, 0]})
        with pytest.raises(ValueError, match="nothing to index"):
            w.add_chunk(record, {})
        with pytest.raises(ValueError, match="not a whole Chunk"):
            w.add_chunk(record[:-1], {cid: [T0, 0]})
        with pytest.raises(ValueError, match="Chunk record"):
            w.add_chunk(b"\x05" + record[1:], {cid: [T0, 0]})
        with pytest.raises(ValueError, match="pairs"):
            w.add_chunk(record, {cid: [T0]})
        w.add_chunk(record, {cid: [T0, 0]})
    assert validated_rows(tmp_path / "bad.mcap") == [("/a", 0, T0, T0 - 1, b"x")]
