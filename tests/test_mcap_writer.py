"""McapWriter round trips through the official MCAP readers (Python, and TypeScript via node)."""

from __future__ import annotations

import io
import os
import random
import struct
import zlib
from pathlib import Path

import pytest
from mcap.exceptions import EndOfFile
from mcap.reader import make_reader
from mcap.records import Chunk, DataEnd, Footer, Message, MessageIndex
from mcap.stream_reader import StreamReader

from simrec_node.mcap.writer import MAGIC, McapWriter

from .mcap_interop import node_validate

COMPRESSIONS = ["zstd", "lz4", "none"]

# (topic, message_encoding, schema name, schema encoding, schema data, channel metadata)
CHANNELS = [
    ("/sim/joint_states", "protobuf", "simrec.JointState", "protobuf", b"\x0a\x03abc", {"rate_hz": "1000"}),
    ("/sim/camera/rgb", "protobuf", "simrec.Image", "protobuf", b"\x0a\x05image", {}),
    ("/sim/events", "json", "", "", b"", {"origin": "sim", "unit": "ns"}),
]


def _write_sample(path: Path | io.BytesIO, compression: str, n: int = 3000, chunk_size: int = 16 * 1024):
    """Write n messages spread over CHANNELS; return the list of what was written."""
    rng = random.Random(1234)
    written: list[tuple[str, int, int, int, bytes]] = []
    with McapWriter(path, compression=compression, chunk_size=chunk_size, profile="simrec") as w:
        ids = {}
        for topic, enc, sname, senc, sdata, meta in CHANNELS:
            schema_id = w.add_schema(sname, senc, sdata) if sname else 0
            ids[topic] = w.add_channel(topic, enc, schema_id, meta)
        w.add_metadata("run", {"seed": "42", "scene": "kitchen"})
        topics = [c[0] for c in CHANNELS]
        for i in range(n):
            topic = topics[i % len(topics)]
            size = rng.choice([0, 1, 17, 100, 100, 100, 700])
            data = bytes(rng.getrandbits(8) for _ in range(size)) if i % 2 else bytes([i % 7]) * size
            log_time = 1_700_000_000_000_000_000 + i * 1000 + rng.randint(0, 500)  # not strictly monotonic
            publish_time = log_time - rng.randint(0, 10_000)
            sequence = i + (1 << 32) if i == n - 1 else i  # last one wraps: stored mod 2**32
            w.write(ids[topic], sequence, log_time, publish_time, data)
            written.append((topic, sequence & 0xFFFFFFFF, log_time, publish_time, data))
        w.add_metadata("result", {"success": "true"})
        assert w.message_count == n
    return written


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_round_trip_with_python_reader(tmp_path: Path, compression: str) -> None:
    path = tmp_path / f"rt_{compression}.mcap"
    written = _write_sample(path, compression)

    with open(path, "rb") as f:
        reader = make_reader(f, validate_crcs=True)
        assert reader.get_header().profile == "simrec"
        assert reader.get_header().library == "simrec"
        got = [
            (ch.topic, m.sequence, m.log_time, m.publish_time, m.data, sc, ch)
            for sc, ch, m in reader.iter_messages(log_time_order=False)
        ]
        assert [g[:5] for g in got] == written  # file order == write order
        for topic, enc, sname, senc, sdata, meta in CHANNELS:
            sc, ch = next((g[5], g[6]) for g in got if g[0] == topic)
            assert ch.message_encoding == enc
            assert ch.metadata == meta
            if sname:
                assert (sc.name, sc.encoding, sc.data) == (sname, senc, sdata)
            else:
                assert sc is None and ch.schema_id == 0

        summary = reader.get_summary()
        stats = summary.statistics
        assert stats.message_count == len(written)
        assert stats.schema_count == 2
        assert stats.channel_count == 3
        assert stats.metadata_count == 2
        assert stats.attachment_count == 0
        assert stats.message_start_time == min(w[2] for w in written)
        assert stats.message_end_time == max(w[2] for w in written)
        by_topic = {ch.topic: ch.id for ch in summary.channels.values()}
        for topic, *_ in CHANNELS:
            assert stats.channel_message_counts[by_topic[topic]] == sum(1 for w in written if w[0] == topic)

        assert len(summary.chunk_indexes) == stats.chunk_count > 1
        assert summary.chunk_indexes[0].compression == ("" if compression == "none" else compression)
        for ci in summary.chunk_indexes:
            assert ci.message_start_time <= ci.message_end_time
            assert ci.message_index_offsets  # MessageIndex records located
        assert {m.name: m.metadata for m in reader.iter_metadata()} == {
            "run": {"seed": "42", "scene": "kitchen"},
            "result": {"success": "true"},
        }
        # Log-time ordered read (uses the indexes) returns every message too.
        assert sorted(m.log_time for _, _, m in reader.iter_messages()) == sorted(w[2] for w in written)


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_stream_reader_validates_every_crc_and_message_index(tmp_path: Path, compression: str) -> None:
    """Linear read with CRC validation (chunks and data section), and MessageIndex offsets match."""
    path = tmp_path / "s.mcap"
    written = _write_sample(path, compression, n=1000, chunk_size=8 * 1024)
    raw = path.read_bytes()
    assert raw.startswith(MAGIC) and raw.endswith(MAGIC)

    with open(path, "rb") as f:
        messages = [r for r in StreamReader(f, validate_crcs=True).records if isinstance(r, Message)]
    assert [(m.log_time, m.data) for m in messages] == [(w[2], w[4]) for w in written]

    # Data-section CRC is computed (non-zero) and matches; so does the footer's summary CRC
    # (parsed by hand: Footer is the 29 bytes before the closing magic).
    summary_start, summary_offset_start, summary_crc = struct.unpack_from("<QQI", raw, len(raw) - 8 - 20)
    (data_crc,) = struct.unpack_from("<I", raw, summary_start - 4)
    assert raw[summary_start - 13] == 0x0F  # DataEnd
    assert data_crc == 0  # not computed: chunk CRCs cover the messages
    assert summary_crc == zlib.crc32(raw[summary_start : len(raw) - 8 - 4])
    assert summary_offset_start > summary_start

    # Every MessageIndex entry points at a message with that log_time inside its chunk.
    with open(path, "rb") as f:
        chunk = None
        checked = 0
        for rec in StreamReader(f, emit_chunks=True, validate_crcs=True).records:
            if isinstance(rec, Chunk):
                chunk = rec
                inner = _decompress(rec)
            elif isinstance(rec, MessageIndex):
                assert chunk is not None
                for log_time, offset in rec.records:
                    opcode, _length, channel_id, _seq, lt = struct.unpack_from("<BQHIQ", inner, offset)
                    assert (opcode, channel_id, lt) == (0x05, rec.channel_id, log_time)
                    checked += 1
            elif isinstance(rec, DataEnd):
                break
    assert checked == len(written)


def _decompress(chunk: Chunk) -> bytes:
    if chunk.compression == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompress(chunk.data, max_output_size=chunk.uncompressed_size)
    if chunk.compression == "lz4":
        import lz4.frame

        return lz4.frame.decompress(chunk.data)
    assert chunk.compression == ""
    return chunk.data


def test_large_message_gets_its_own_chunk(tmp_path: Path) -> None:
    path = tmp_path / "big.mcap"
    big = os.urandom(300_000)
    with McapWriter(path, chunk_size=64 * 1024) as w:
        ch = w.add_channel("/big", "raw", 0)
        w.write(ch, 0, 10, 10, b"small-before")
        w.write(ch, 1, 20, 20, big)
        w.write(ch, 2, 30, 30, b"small-after")
    with open(path, "rb") as f:
        reader = make_reader(f, validate_crcs=True)
        assert [m.data for _, _, m in reader.iter_messages()] == [b"small-before", big, b"small-after"]
        chunks = reader.get_summary().chunk_indexes
    assert len(chunks) == 3
    assert chunks[1].message_start_time == chunks[1].message_end_time == 20
    assert chunks[1].uncompressed_size == 31 + len(big)
    # Random bytes don't compress: that chunk is stored raw, the others stay zstd.
    assert [c.compression for c in chunks] == ["zstd", "", "zstd"]
    assert chunks[1].compressed_size == chunks[1].uncompressed_size


def test_a_quarter_chunk_message_sits_alone_and_small_ones_share(tmp_path: Path) -> None:
    """A seek to a big message decompresses it alone; small messages still fill whole chunks."""
    path = tmp_path / "quarter.mcap"
    chunk_size = 1 << 20
    state = bytes(range(256)) * (chunk_size // 4 // 256)  # exactly a quarter chunk, compressible
    just_under = state[:-1]
    with McapWriter(path, chunk_size=chunk_size) as w:
        ch = w.add_channel("/state", "raw", 0)
        small = w.add_channel("/joints", "raw", 0)
        t = 0
        for step in range(3):
            for _ in range(50):
                w.write(small, t, t, t, b"j" * 40)
                t += 1
            w.write(ch, step, t, t, state if step != 1 else just_under)
            t += 1
    with open(path, "rb") as f:
        reader = make_reader(f, validate_crcs=True)
        chunks = reader.get_summary().chunk_indexes
        f.seek(0)
        assert sum(1 for _ in make_reader(f).iter_messages()) == 153
    # 50 small | a quarter chunk | 50 small, one just under a quarter, 50 small | a quarter chunk
    spans = [(c.message_start_time, c.message_end_time) for c in chunks]
    assert spans == [(0, 49), (50, 50), (51, 151), (152, 152)], spans
    assert chunks[1].uncompressed_size == chunks[3].uncompressed_size == 31 + len(state)


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_big_raw_chunks_verify_and_data_section_crc_is_left_out(tmp_path: Path, compression: str) -> None:
    """Incompressible chunks are stored raw with a valid CRC; DataEnd says "no CRC" (0)."""
    path = tmp_path / "raw.mcap"
    payloads = [os.urandom(700_000) for _ in range(5)]
    with McapWriter(path, compression=compression, chunk_size=3 << 20) as w:
        ch = w.add_channel("/cam", "raw", 0)
        for i, p in enumerate(payloads):
            w.write(ch, i, i, i, p)
        w.add_metadata("after", {"k": "v"})
    with open(path, "rb") as f:  # the Python StreamReader checks every chunk CRC when validating
        records = list(StreamReader(f, validate_crcs=True).records)
    assert [r.data for r in records if isinstance(r, Message)] == payloads
    assert next(r for r in records if isinstance(r, DataEnd)).data_section_crc == 0
    with open(path, "rb") as f:
        chunks = make_reader(f, validate_crcs=True).get_summary().chunk_indexes
    assert [c.compression for c in chunks] == ["", ""]


def test_compressible_large_messages_stay_compressed(tmp_path: Path) -> None:
    path = tmp_path / "img.mcap"
    with McapWriter(path, compression="lz4", chunk_size=1 << 20) as w:
        ch = w.add_channel("/img", "raw", 0)
        for i in range(5):
            w.write(ch, i, i, i, bytes([i]) * (1 << 20))
    with open(path, "rb") as f:
        reader = make_reader(f, validate_crcs=True)
        chunks = reader.get_summary().chunk_indexes
        assert len(chunks) == 5
        assert all(c.compression == "lz4" and c.compressed_size < c.uncompressed_size // 10 for c in chunks)
        assert [m.data[:1] for _, _, m in reader.iter_messages()] == [bytes([i]) for i in range(5)]


def test_flush_puts_complete_chunks_on_disk(tmp_path: Path) -> None:
    """After flush() a linear reader sees every message so far, ending exactly at a record boundary."""
    path = tmp_path / "live.mcap"
    w = McapWriter(path, chunk_size=1 << 20)
    ch = w.add_channel("/a", "raw", 0)
    for i in range(100):
        w.write(ch, i, i, i, b"payload-%d" % i)
    assert w.bytes_written < 200  # still buffered in the open chunk
    w.flush()
    snapshot = path.read_bytes()
    assert len(snapshot) == w.bytes_written

    seen = []
    records = StreamReader(io.BytesIO(snapshot), validate_crcs=True).records
    with pytest.raises(EndOfFile):  # no footer yet: runs off the end, but only at a record boundary
        for rec in records:
            if isinstance(rec, Message):
                seen.append(rec.data)
    assert seen == [b"payload-%d" % i for i in range(100)]

    for i in range(100, 150):
        w.write(ch, i, i, i, b"payload-%d" % i)
    w.close()
    with open(path, "rb") as f:
        reader = make_reader(f, validate_crcs=True)
        assert [m.sequence for _, _, m in reader.iter_messages()] == list(range(150))
        assert reader.get_summary().statistics.chunk_count == 2


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_zero_message_file_is_valid(tmp_path: Path, compression: str) -> None:
    path = tmp_path / "empty.mcap"
    with McapWriter(path, compression=compression) as w:
        w.add_channel("/never", "raw", w.add_schema("S", "jsonschema", b"{}"))
        w.flush()  # nothing open: no empty chunk
    with open(path, "rb") as f:
        reader = make_reader(f, validate_crcs=True)
        assert list(reader.iter_messages()) == []
        summary = reader.get_summary()
        assert summary.statistics.message_count == 0
        assert summary.statistics.chunk_count == 0
        assert summary.chunk_indexes == []
        assert [c.topic for c in summary.channels.values()] == ["/never"]
    with open(path, "rb") as f:
        assert list(StreamReader(f, validate_crcs=True).records)[-1].__class__ is Footer


def test_binary_stream_output_and_properties() -> None:
    buf = io.BytesIO()
    w = McapWriter(buf, compression="none")
    ch = w.add_channel("/a", "raw", 0)
    for i in range(10):
        w.write(ch, i, 100 + i, 50 + i, b"x" * 10)
    assert w.message_count == 10
    w.close()
    assert not buf.closed  # caller's stream stays open
    assert w.bytes_written == len(buf.getvalue())
    buf.seek(0)
    reader = make_reader(buf, validate_crcs=True)
    assert [(m.log_time, m.publish_time) for _, _, m in reader.iter_messages()] == [
        (100 + i, 50 + i) for i in range(10)
    ]


def test_schema_dedup_and_ids() -> None:
    w = McapWriter(io.BytesIO())
    a = w.add_schema("A", "protobuf", b"1")
    assert a >= 1
    assert w.add_schema("A", "protobuf", b"1") == a
    assert w.add_schema("A", "protobuf", b"2") != a
    assert w.add_schema("A", "jsonschema", b"1") != a
    c1 = w.add_channel("/x", "protobuf", a)
    c2 = w.add_channel("/y", "protobuf", a)
    assert c1 != c2 and min(c1, c2) >= 1
    w.close()


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="compression"):
        McapWriter(tmp_path / "bad.mcap", compression="bz2")
    w = McapWriter(tmp_path / "e.mcap")
    with pytest.raises(ValueError, match="schema"):
        w.add_channel("/x", "raw", 7)
    ch = w.add_channel("/x", "raw", 0)
    with pytest.raises(ValueError, match="unknown channel"):
        w.write(ch + 1, 0, 0, 0, b"")
    with pytest.raises(struct.error):  # negative timestamps can't be uint64; nothing half-written
        w.write(ch, 0, -1, 0, b"")
    w.write(ch, 0, 5, 5, b"ok")
    w.close()
    w.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        w.write(ch, 1, 6, 6, b"late")
    with pytest.raises(RuntimeError, match="closed"):
        w.add_channel("/y", "raw", 0)
    with pytest.raises(RuntimeError, match="closed"):
        w.add_metadata("m", {})
    with pytest.raises(RuntimeError, match="closed"):
        w.flush()
    with open(tmp_path / "e.mcap", "rb") as f:
        assert [m.data for _, _, m in make_reader(f, validate_crcs=True).iter_messages()] == [b"ok"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full to provoke ENOSPC")
def test_os_error_propagates() -> None:
    """Writes are unbuffered, so a full device fails the very first record, not a later flush."""
    with pytest.raises(OSError):
        McapWriter("/dev/full")


def test_interop_with_typescript_reader(tmp_path: Path) -> None:
    """The official @mcap/core McapIndexedReader + McapStreamReader accept our files (all CRCs)."""
    files = {}
    for compression in COMPRESSIONS:
        path = tmp_path / f"interop_{compression}.mcap"
        files[path] = _write_sample(path, compression, n=2000)
    empty = tmp_path / "interop_empty.mcap"
    with McapWriter(empty) as w:
        w.add_channel("/never", "raw", 0)
    files[empty] = []
    big = tmp_path / "interop_big.mcap"
    with McapWriter(big, chunk_size=1 << 16) as w:
        ch = w.add_channel("/big", "raw", 0)
        w.write(ch, 0, 1, 1, os.urandom(200_000))
        w.write(ch, 1, 2, 2, bytes(200_000))
    files[big] = [("/big",)] * 2

    for path, written in files.items():
        result = node_validate(path)
        expected_topics: dict[str, int] = {}
        for w_ in written:
            expected_topics[w_[0]] = expected_topics.get(w_[0], 0) + 1
        assert result["messageCount"] == len(written), path.name
        assert result["topics"] == expected_topics, path.name
        assert result["streamMessageCount"] == len(written), path.name
        assert result["statisticsMessageCount"] == len(written), path.name
        assert result["dataSectionCrcOk"] is None, path.name  # 0: not computed
        if path.name.startswith("interop_z") or path.name.startswith("interop_l"):
            assert result["metadataCount"] == 2

    # The checker is not vacuous: one flipped byte inside a raw chunk's records fails the chunk CRC.
    raw = bytearray((tmp_path / "interop_none.mcap").read_bytes())
    raw[len(raw) // 3] ^= 0xFF
    corrupt = tmp_path / "corrupt.mcap"
    corrupt.write_bytes(bytes(raw))
    err = node_validate(corrupt, expect_ok=False)["stderr"]
    assert "CRC" in err or "crc" in err, err


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("compressible", [True, False])
def test_big_payloads_kept_by_reference_round_trip(
    tmp_path: Path, compression: str, compressible: bool
) -> None:
    """Payloads of 64 KiB and more skip the chunk buffer; chunks mixing both kinds stay exact."""
    rng = random.Random(7)
    path = tmp_path / "mixed.mcap"
    sent = []
    with McapWriter(path, compression=compression, chunk_size=1 << 20) as writer:
        channel = writer.add_channel("/mixed", "protobuf", writer.add_schema("x", "protobuf", b""))
        for i in range(60):
            size = rng.choice([10, 200, 70_000, 300_000])
            data = bytes([i % 251]) * size if compressible else os.urandom(size)
            writer.write(channel, i, 1000 + i, 900 + i, data)
            sent.append(data)
    with path.open("rb") as f:
        reader = make_reader(f, validate_crcs=True)
        got = [m.data for _, _, m in reader.iter_messages()]
        assert reader.get_summary().statistics.chunk_count > 1
    assert got == sent
    assert node_validate(path)["messageCount"] == 60
