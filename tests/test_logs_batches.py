"""Bulk read-back (``Log.batches`` + ``convert.collect``) gives exactly what the per-message path
gives: values, dtypes, shapes, times and skip notes, for every kind of topic, split logs,
damaged chunks, lying or missing message indexes and files without a summary."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from mcap.reader import make_reader
from PIL import Image

import simrec_node
from simrec_node.convert import collect
from simrec_node.convert.collect import TopicTable
from simrec_node.convert.pixels import FrameRows
from simrec_node.logs import Log
from simrec_node.logs.buffers import Buffers
from simrec_node.mcap.records import ChunkHeader
from simrec_node.msgs import (
    decode_image,
    encode_compressed_image,
    encode_raw_image,
    encode_state_batch,
    encode_tensor,
    foxglove_message_class,
)
from tests.convert_logs import MS, T0, clocks, state_batches, tensors, write_log


def _frames(topic: str, sizes: list[tuple[int, int]], *, offset_ns: int = 0):
    out = []
    for i, (height, width) in enumerate(sizes):
        rgb = np.zeros((height, width, 3), dtype=np.uint8)
        rgb[..., 0] = 10 * i
        rgb[: height // 2, :, 1] = 200
        out.append(
            (topic, "foxglove.CompressedImage", T0 + offset_ns + i * 33 * MS, encode_compressed_image(rgb))
        )
    return out


def _flood(count: int, topics: int):
    """Same-sized float32 tensors round-robin on ``topics`` topics (equal records: strided views)."""
    return [
        (
            f"/flood/t{i % topics}",
            "simrec.Tensor",
            T0 + i * MS // 10,
            encode_tensor(np.full(6, i, np.float32)),
        )
        for i in range(count)
    ]


def _odd_tensors(count: int):
    """Tensors from big-endian and strided arrays (the encoder stores little-endian, contiguous)."""
    base = np.arange(24, dtype=">f4").reshape(4, 6)
    return [
        ("/odd", "simrec.Tensor", T0 + 5 * MS + i * 7 * MS, encode_tensor((base + i)[:, ::2]))
        for i in range(count)
    ]


def _small_states(count: int):
    """Small StateBatches whose step crosses a varint length (127 -> 128), with an extra tensor
    in some (missing elsewhere: NaN-filled or skipped, as the per-message path does)."""
    out = []
    for i in range(count):
        tensors = {"qpos": np.full((4, 2), i, np.float32), "done": np.arange(4) % 3 == i % 3}
        if i % 7 == 3:
            tensors["extra"] = np.ones(2, np.float64)
        data = encode_state_batch(tensors, step=100 + i, sim_time=0.5 + i * 0.01, num_envs=4)
        out.append(("/small", "simrec.StateBatch", T0 + 3 * MS + i * 2 * MS, data))
    return out


def _mixed_messages():
    state, _ = state_batches(40, 3)
    return (
        state
        + _small_states(60)
        + clocks(30, period_ns=13 * MS)
        + tensors([(2,), (2,), (3,), (2,), (2, 1)] * 4)  # mixed lengths and shapes on /obs
        + _flood(600, 5)
        + _odd_tensors(12)
        + _frames("/camera", [(24, 32)] * 10)
        + _frames("/camera/mixed", [(24, 32), (24, 32), (16, 16), (24, 32)], offset_ns=MS)
    )


@pytest.fixture(scope="module")
def mixed_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_log(tmp_path_factory.mktemp("bulk") / "mixed.mcap", _mixed_messages(), chunk_size=4096)


def reference(reader, topics, *, start=None, end=None, allow_object=False) -> dict[str, TopicTable]:
    """The per-message path: every message decoded on its own, in ``iter_raw``'s order."""
    tables = {t: TopicTable(t, reader.topics[t].type_name, 0, allow_object) for t in topics}
    decoders = {}
    for message in reader.iter_raw(topics, start, end):
        topic = message.channel.topic
        if topic in reader.image_topics:
            value = decode_image(message.type_name, message.data)
        else:
            decode = decoders.setdefault(topic, reader.decoder(message.channel))
            value = decode(message.data)
        tables[topic].add(message.log_time, message.publish_time, value)
    return tables


def assert_same(bulk: dict[str, TopicTable], ref: dict[str, TopicTable]) -> None:
    assert set(bulk) == set(ref)
    for topic in ref:
        got, got_skipped, got_notes = bulk[topic].finish()
        want, want_skipped, want_notes = ref[topic].finish()
        assert (got_skipped, got_notes) == (want_skipped, want_notes), topic
        assert set(got) == set(want), topic
        for key, expected in want.items():
            actual = got[key]
            assert actual.dtype == expected.dtype and actual.shape == expected.shape, (topic, key)
            if expected.dtype == object:
                assert all(np.array_equal(a, b) for a, b in zip(actual, expected, strict=True)), (topic, key)
            else:
                np.testing.assert_array_equal(actual, expected, err_msg=f"{topic} {key}")


def _all(reader) -> list[str]:
    return list(reader.topics)


@pytest.mark.parametrize("allow_object", [False, True])
def test_bulk_equals_per_message_for_every_kind_of_topic(mixed_log: Path, allow_object: bool) -> None:
    with simrec_node.open(mixed_log) as reader:
        topics = _all(reader)
        bulk = collect(reader, topics, allow_object=allow_object)
        assert bulk.problems == []
        assert_same(bulk.tables, reference(reader, topics, allow_object=allow_object))
        arrays = bulk.tables["/flood/t3"].arrays()
        assert arrays["data"].shape == (120, 6) and arrays["data"][0, 0] == 3
        odd = bulk.tables["/odd"].arrays()["data"]
        assert odd.dtype == np.dtype("<f4") and odd.shape == (12, 4, 3)
        np.testing.assert_array_equal(odd[5], (np.arange(24, dtype=np.float32).reshape(4, 6) + 5)[:, ::2])
        small = bulk.tables["/small"].finish()
        assert small[0]["step"].tolist() == list(range(100, 160)) and small[0]["tensors.qpos"].shape == (
            60,
            4,
            2,
        )
        frames = bulk.tables["/camera"].arrays()["data"]
        assert frames.shape == (10, 24, 32, 3) and frames.dtype == np.uint8
        mixed = bulk.tables["/camera/mixed"].finish()
        assert ("data" in mixed[0]) == allow_object and "ragged" in str(mixed[1] or mixed[2])


def _big_states(count: int):
    """StateBatches past ``BULK_STATE_BYTES`` (read one by one, copied from the chunk into their
    columns), 5 MiB in all (a column in a map of its own), with a tensor missing from some and
    one of another shape, between small messages on another topic."""
    out = []
    for i in range(count):
        tensors = {"obs": np.full((256, 64), i, np.float32), "reward": np.arange(256, dtype=np.float32) + i}
        if i % 9 == 4:
            tensors["extra"] = np.full(3, i, np.float64)
        if i == count - 2:
            tensors["reward"] = np.zeros(128, np.float32)  # ragged: skipped or objects, as one by one
        data = encode_state_batch(tensors, step=i, sim_time=i * 0.01, num_envs=256)
        out.append(("/big", "simrec.StateBatch", T0 + i * 10 * MS, data))
    return out + clocks(count, period_ns=10 * MS)


@pytest.mark.parametrize("allow_object", [False, True])
def test_big_states_are_copied_once_into_their_columns(tmp_path: Path, allow_object: bool) -> None:
    log = write_log(tmp_path / "big.mcap", _big_states(80), chunk_size=300_000)
    with simrec_node.open(log) as reader:
        topics = _all(reader)
        bulk = collect(reader, topics, allow_object=allow_object)
        assert bulk.problems == []
        assert_same(bulk.tables, reference(reader, topics, allow_object=allow_object))
        arrays, skipped, _ = bulk.tables["/big"].finish()
    obs = arrays["tensors.obs"]  # the log is closed: the column owns its memory
    assert obs.shape == (80, 256, 64) and obs.flags.writeable
    np.testing.assert_array_equal(obs[:, 0, 0], np.arange(80, dtype=np.float32))
    obs[0] += 1  # writable memory of its own, not a view of a chunk
    assert np.isnan(arrays["tensors.extra"][0]).all() and arrays["tensors.extra"][4].tolist() == [4.0] * 3
    assert ("tensors.reward" in skipped) != allow_object


def test_a_time_window_cuts_both_paths_alike(mixed_log: Path) -> None:
    with simrec_node.open(mixed_log) as reader:
        topics = _all(reader)
        bulk = collect(reader, topics, start=0.05, end=0.2)
        assert_same(bulk.tables, reference(reader, topics, start=0.05, end=0.2))
        assert 0 < len(bulk.tables["/flood/t0"].arrays()["log_time"]) < 120


def test_to_numpy_gives_pixels_and_episode_columns(mixed_log: Path) -> None:
    with simrec_node.open(mixed_log) as reader:
        frames = reader.to_numpy("/camera")
        assert frames["data"].shape == (10, 24, 32, 3)
        assert abs(int(frames["data"][3, 0, 0, 0]) - 30) <= 8  # JPEG: close, not exact
        state = reader.to_numpy("/sim/state")
        assert state["tensors.qpos"].shape == (40, 3, 2) and "episode_index" in state


def test_batches_are_the_messages_as_columns(mixed_log: Path) -> None:
    with Log(mixed_log) as log:
        messages = [
            (m.channel.id, m.sequence, m.log_time, m.publish_time, bytes(m.data)) for m in log.messages()
        ]
        rows = []
        for batch in log.batches():
            rows += [
                (int(c), int(s), int(t), int(p), bytes(batch.payload(i)))
                for i, (c, s, t, p) in enumerate(
                    zip(batch.channel, batch.sequence, batch.log_time, batch.publish_time, strict=True)
                )
            ]
        rows.sort(key=lambda r: r[2])  # stable: the messages' order
        assert rows == messages and len(rows) > 600


def test_split_logs_read_as_one(tmp_path: Path) -> None:
    messages = sorted(_mixed_messages(), key=lambda m: m[2])
    run = tmp_path / "run"
    run.mkdir()
    half = len(messages) // 2
    write_log(run / "run_0.mcap", messages[:half], chunk_size=4096)
    write_log(run / "run_1.mcap", messages[half:], chunk_size=4096)
    with simrec_node.open(run) as reader:
        topics = _all(reader)
        bulk = collect(reader, topics, allow_object=True)
        assert_same(bulk.tables, reference(reader, topics, allow_object=True))
        assert len(bulk.tables["/flood/t1"].arrays()["log_time"]) == 120


def _chunks(path: Path) -> list[ChunkHeader]:
    with Log(path) as log:
        return [p for p in log.files[0].layout().pieces if isinstance(p, ChunkHeader)]


def test_a_damaged_chunk_is_skipped_and_said_the_rest_intact(mixed_log: Path, tmp_path: Path) -> None:
    path = tmp_path / "damaged.mcap"
    shutil.copy(mixed_log, path)
    chunk = _chunks(path)[len(_chunks(path)) // 2]
    data = bytearray(path.read_bytes())
    middle = (chunk.data_start + chunk.data_end) // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    with simrec_node.open(mixed_log) as whole:
        full = sum(t.rows for t in collect(whole, _all(whole)).tables.values())
    with simrec_node.open(path) as reader:
        topics = _all(reader)
        bulk = collect(reader, topics)
        assert any(f"chunk at byte {chunk.offset}" in line for line in bulk.problems), bulk.problems
        assert_same(bulk.tables, reference(reader, topics))
        assert 0 < sum(t.rows for t in bulk.tables.values()) < full


def test_a_lying_message_index_is_not_trusted(mixed_log: Path, tmp_path: Path) -> None:
    """MessageIndex records sit outside the chunk's CRC: an offset or a time that does not match
    the records sends that chunk through the record walk, with the same result."""
    path = tmp_path / "lying.mcap"
    shutil.copy(mixed_log, path)
    with Log(path) as log:
        file = log.files[0]
        index = file._chunk_index()
        lies = []
        for head in _chunks(path)[1:4]:
            at = next(iter(index[head.offset].message_index_offsets.values()))
            lies.append(at + 1 + 8 + 2 + 4 + 8)  # the first entry's offset (after its log_time)
    data = bytearray(path.read_bytes())
    for at, shift in zip(lies, (1, 9, 1 << 40), strict=True):
        value = int.from_bytes(data[at : at + 8], "little") + shift
        data[at : at + 8] = value.to_bytes(8, "little")
    path.write_bytes(bytes(data))
    with simrec_node.open(path) as reader, simrec_node.open(mixed_log) as honest:
        topics = _all(reader)
        bulk = collect(reader, topics, allow_object=True)
        assert_same(bulk.tables, reference(reader, topics, allow_object=True))
        assert_same(bulk.tables, collect(honest, topics, allow_object=True).tables)


def test_a_file_without_summary_is_walked(mixed_log: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.mcap"
    last = _chunks(mixed_log)[-1]
    path.write_bytes(mixed_log.read_bytes()[: last.offset])  # no summary, the last chunk gone
    with simrec_node.open(path) as reader:
        topics = _all(reader)
        bulk = collect(reader, topics, allow_object=True)
        assert_same(bulk.tables, reference(reader, topics, allow_object=True))
        assert bulk.tables["/flood/t0"].rows > 0


def _image_frames() -> list[tuple[str, str, int, bytes]]:
    """Frames of every kind the reader decodes into its columns: JPEG in colour (two of them
    broken), mono JPEG, PNG, CMYK JPEG (through Pillow) and RawImage."""
    rng = np.random.default_rng(3)
    out = []
    compressed = foxglove_message_class("CompressedImage")
    for i in range(40):
        data = encode_compressed_image(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
        if i in (7, 8):
            data = compressed(format="jpeg", data=compressed.FromString(data).data[:300]).SerializeToString()
        out.append(("/cam/rgb", "foxglove.CompressedImage", T0 + i * 33 * MS, data))
    for i in range(12):
        mono = rng.integers(0, 255, (16, 20), dtype=np.uint8)
        out.append(("/cam/mono", "foxglove.CompressedImage", T0 + i * 40 * MS, encode_compressed_image(mono)))
        rgb = rng.integers(0, 255, (16, 20, 3), dtype=np.uint8)
        png = encode_compressed_image(rgb, format="png")
        out.append(("/cam/png", "foxglove.CompressedImage", T0 + i * 40 * MS + 1, png))
        out.append(("/cam/raw", "foxglove.RawImage", T0 + i * 40 * MS + 2, encode_raw_image(rgb)))
        cmyk = io.BytesIO()
        Image.fromarray(rgb).convert("CMYK").save(cmyk, format="JPEG")
        message = compressed(format="jpeg", data=cmyk.getvalue()).SerializeToString()
        out.append(("/cam/cmyk", "foxglove.CompressedImage", T0 + i * 40 * MS + 3, message))
    return out


def _frames_one_by_one(reader, topic: str) -> np.ndarray:
    frames = []
    for message in reader.iter_raw([topic]):
        try:
            frames.append(decode_image(message.type_name, message.data))
        except ValueError:
            continue
    return np.stack(frames)


def test_frames_are_decoded_into_their_column_whatever_their_format(tmp_path: Path) -> None:
    """Frames decoded on the pool straight into their column's rows: a frame that does not
    decode leaves no hole, a column whose count was too small grows, every format lands the
    same as decoding it on its own."""
    log = write_log(tmp_path / "frames.mcap", _image_frames(), chunk_size=8192)
    with simrec_node.open(log) as reader:
        topics = reader.image_topics
        assert sorted(topics) == ["/cam/cmyk", "/cam/mono", "/cam/png", "/cam/raw", "/cam/rgb"]
        bulk = collect(reader, topics)
        assert bulk.problems == ["2 message(s) on /cam/rgb could not be decoded and were skipped"]
        for topic in topics:
            expected = _frames_one_by_one(reader, topic)
            arrays, skipped, notes = bulk.tables[topic].finish()
            assert (skipped, notes) == ({}, {}), topic
            np.testing.assert_array_equal(arrays["data"], expected, err_msg=topic)
            assert len(arrays["log_time"]) == len(expected)
        assert bulk.tables["/cam/rgb"].rows == 38 and bulk.tables["/cam/mono"].arrays()["data"].ndim == 3
        # A table told to expect one frame: its column grows while frames are being decoded.
        small = TopicTable("/cam/rgb", "foxglove.CompressedImage", 1, False)
        rows = FrameRows(small)
        with Log(log) as whole:
            channel = next(c for c in whole.channels.values() if c.topic == "/cam/rgb")
            for batch in whole.batches([channel]):
                rows.add(batch, np.arange(len(batch)))
        assert rows.finish() == 2
        np.testing.assert_array_equal(small.arrays()["data"], _frames_one_by_one(reader, "/cam/rgb"))


def test_a_chunk_buffer_is_handed_out_again_once_nothing_refers_to_it() -> None:
    pool = Buffers(most=2)
    first = pool.take(1000)
    address = first.ctypes.data
    view = memoryview(first)[10:20]  # a payload kept past its chunk
    del first
    second = pool.take(1000)
    assert second.ctypes.data != address  # never written under a live view
    del view, second
    again = [pool.take(1000) for _ in range(2)]
    assert address in {buffer.ctypes.data for buffer in again}  # reused on this interpreter
    assert pool.take(1 << 30) is None  # a size past the pool's: read without it


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_payloads_kept_past_their_chunk_stay_as_read(tmp_path: Path, compression: str) -> None:
    """Chunks are read into buffers that are used again once nothing refers to them: payloads
    kept as views (no copy) past their chunk, and whole batches kept, still hold what the file
    holds when the read is over (the `mcap` package's reader says what that is)."""
    path = write_log(tmp_path / "kept.mcap", _flood(3000, 3), compression=compression, chunk_size=4096)
    with path.open("rb") as f:
        expected = [(c.topic, m.log_time, m.data) for _, c, m in make_reader(f).iter_messages()]
    with Log(path) as log:
        assert len(_chunks(path)) > 20
        kept = [(m.topic, m.log_time, m.data) for m in log.messages()]  # views of the chunks
        batches = list(log.batches())
        for _ in log.batches():  # a pass that keeps nothing hands the buffers round again
            pass
        assert [(topic, time, bytes(data)) for topic, time, data in kept] == expected
        payloads = [bytes(batch.payload(i)) for batch in batches for i in range(len(batch))]
        assert sorted(payloads) == sorted(data for _, _, data in expected)
