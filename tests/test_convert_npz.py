"""MCAP -> NPZ on deterministic logs written with simrec's McapWriter: exact round trips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import simrec_node
from simrec_node.cli.main import main
from simrec_node.convert import ConvertError, NpzOptions, build_arrays, open_log
from simrec_node.msgs import FrameTransforms, Scalars
from tests.convert_logs import MS, T0, clocks, state_batches, tensors, write_log


def _convert(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["convert", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _load(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    with np.load(path, allow_pickle=True) as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, json.loads(str(arrays.pop("__meta__")))


@pytest.fixture
def state_log(tmp_path: Path):
    messages, arrays = state_batches(40, 3, done_at={9: [0], 25: [1, 2]})
    path = write_log(tmp_path / "run.mcap", messages + clocks(9, period_ns=50 * MS, offset_ns=5 * MS))
    return path, arrays


def test_state_batches_round_trip_exactly(tmp_path: Path, state_log, capsys) -> None:
    path, expected = state_log
    code, out, _ = _convert(capsys, str(path), "-o", str(tmp_path / "out.npz"))
    assert code == 0 and "wrote" in out
    arrays, meta = _load(tmp_path / "out.npz")
    for key, value in expected.items():
        got = arrays[f"/sim/state/{key}"]
        assert got.dtype == value.dtype and got.shape == value.shape, key
        np.testing.assert_array_equal(got, value)
    np.testing.assert_array_equal(arrays["/sim/state/publish_time"], expected["log_time"] - MS)
    assert arrays["/sim/state/num_envs"].tolist() == [3] * 40
    # /clock: generic protobuf walk; nested Timestamp fields keep their protobuf dtypes
    assert arrays["/clock/clock.seconds"].dtype == np.int64
    np.testing.assert_array_equal(arrays["/clock/clock.seconds"], np.arange(9))
    np.testing.assert_array_equal(arrays["/clock/clock.nanos"], np.arange(9, dtype=np.int32) * 1000)
    np.testing.assert_array_equal(arrays["/clock/step"], np.arange(9, dtype=np.uint64) * 10)
    np.testing.assert_array_equal(arrays["/clock/log_time"], T0 + 5 * MS + np.arange(9) * 50 * MS)
    # batched done: [T, N] mask kept, episode_index counts episodes that ended before each step
    index = arrays["/sim/state/episode_index"]
    assert index.shape == (40, 3)
    assert index[:, 0].tolist() == [0] * 10 + [1] * 30
    assert index[:, 1].tolist() == [0] * 26 + [1] * 14
    assert meta["topics"]["/sim/state"] == {"type": "simrec.StateBatch", "messages": 40}
    assert meta["skipped"] == {} and meta["problems"] == []


def test_time_window_and_topic_selection(tmp_path: Path, state_log, capsys) -> None:
    path, expected = state_log
    out = tmp_path / "window.npz"
    code, _, _ = _convert(
        capsys, str(path), "-o", str(out), "--topics", "sim/state", "--start", "0.1", "--end", "0.2"
    )
    assert code == 0
    arrays, _ = _load(out)
    assert not any(k.startswith("/clock/") for k in arrays)
    np.testing.assert_array_equal(arrays["/sim/state/step"], np.arange(11, 22, dtype=np.uint64))
    np.testing.assert_array_equal(arrays["/sim/state/tensors.qpos"], expected["tensors.qpos"][10:21])


def test_align_holds_previous_value_row_for_row(tmp_path: Path, state_log, capsys) -> None:
    path, _ = state_log
    out = tmp_path / "aligned.npz"
    code, stdout, _ = _convert(capsys, str(path), "-o", str(out), "--align", "/sim/state")
    assert code == 0 and "aligned: 40 rows" in stdout
    arrays, meta = _load(out)
    assert meta["align"]["mode"] == "hold"
    time = arrays["time"]
    np.testing.assert_array_equal(time, arrays["/sim/state/log_time"])
    assert all(v.shape[0] == 40 for k, v in arrays.items() if k.startswith("/"))
    clock_times = T0 + 5 * MS + np.arange(9) * 50 * MS
    for row, t in enumerate(time):
        before = np.flatnonzero(clock_times <= t)
        assert arrays["/clock/valid"][row] == (len(before) > 0)
        if len(before):
            assert arrays["/clock/clock.seconds"][row] == before[-1]
            assert arrays["/clock/log_time"][row] == clock_times[before[-1]]


def test_hz_grid_with_nearest(tmp_path: Path, state_log) -> None:
    path, _ = state_log
    result = build_arrays(open_log(path), NpzOptions(hz=25, interp="nearest"))
    time = result.arrays["time"]
    assert np.all(np.diff(time) == 40 * MS) and time[0] == T0
    state_times = result.arrays["/sim/state/log_time"]
    # nearest: each grid time picked the closest state message (exact hits, then the last one)
    np.testing.assert_array_equal(state_times[:10], time[:10])
    assert len(time) == 11 and state_times[10] == T0 + 390 * MS
    assert result.meta["align"]["mode"] == "nearest"
    # done flags are never lost when resampling: both episode ends survive a 40 ms grid
    done = result.arrays["/sim/state/tensors.done"]
    assert done[:, 0].sum() == 1 and done[:, 1].sum() == 1


def test_split_episodes_single_env(tmp_path: Path, capsys) -> None:
    messages, expected = state_batches(30, 1, done_at={4: [0], 19: [0]})
    path = write_log(tmp_path / "single.mcap", messages + clocks(6, period_ns=50 * MS))
    out = tmp_path / "eps.npz"
    code, stdout, _ = _convert(capsys, str(path), "-o", str(out), "--split-episodes")
    assert code == 0 and "3 groups" in stdout
    arrays, meta = _load(out)
    qpos = expected["tensors.qpos"]
    np.testing.assert_array_equal(arrays["episode_000/sim/state/tensors.qpos"], qpos[:5])
    np.testing.assert_array_equal(arrays["episode_001/sim/state/tensors.qpos"], qpos[5:20])
    np.testing.assert_array_equal(arrays["episode_002/sim/state/tensors.qpos"], qpos[20:])
    assert (
        arrays["episode_000/sim/state/tensors.done"][-1] and arrays["episode_001/sim/state/tensors.done"][-1]
    )
    # other topics split by time: clock messages at 0, 50, ... ms; episode 1 starts at 50 ms
    assert arrays["episode_000/clock/step"].tolist() == [0]
    assert arrays["episode_001/clock/step"].tolist() == [10, 20, 30]
    assert meta["episodes"]["count"] == 3


def test_split_episodes_without_done_is_one_line(tmp_path: Path, capsys) -> None:
    path = write_log(tmp_path / "nodone.mcap", clocks(5, period_ns=10 * MS))
    code, _, err = _convert(capsys, str(path), "-o", str(tmp_path / "x.npz"), "--split-episodes")
    assert code == 2 and err.count("\n") == 1 and "done" in err
    assert list(tmp_path.iterdir()) == [path]  # no output and no temporary file left


def _transforms(counts: list[int]) -> list[tuple[str, str, int, bytes]]:
    out = []
    for i, count in enumerate(counts):
        msg = FrameTransforms()
        for j in range(count):
            tf = msg.transforms.add(parent_frame_id="world", child_frame_id=f"link{j}")
            tf.translation.x = i + j / 10
        out.append(("/tf", "foxglove.FrameTransforms", T0 + i * MS, msg.SerializeToString()))
    return out


def test_repeated_messages_flatten_and_strings_are_listed(tmp_path: Path) -> None:
    path = write_log(tmp_path / "tf.mcap", _transforms([3, 3, 3]))
    result = build_arrays(open_log(path), NpzOptions())
    np.testing.assert_allclose(
        result.arrays["/tf/transforms.translation.x"], [[0, 0.1, 0.2], [1, 1.1, 1.2], [2, 2.1, 2.2]]
    )
    assert result.skipped["/tf/transforms.child_frame_id"] == "string field"
    kept = build_arrays(open_log(path), NpzOptions(allow_object=True))
    names = kept.arrays["/tf/transforms.child_frame_id"]
    assert names.dtype == object and list(names[2]) == ["link0", "link1", "link2"]


def test_ragged_fields_skipped_or_kept_as_objects(tmp_path: Path, capsys) -> None:
    path = write_log(tmp_path / "ragged.mcap", _transforms([2, 3, 2]) + tensors([(2,), (2,), (4,)]))
    code, stdout, _ = _convert(capsys, str(path), "-o", str(tmp_path / "r.npz"))
    assert code == 0 and "--allow-object" in stdout
    arrays, meta = _load(tmp_path / "r.npz")
    assert "/obs/data" not in arrays and "ragged" in meta["skipped"]["/obs/data"]
    assert "ragged" in meta["skipped"]["/tf/transforms.translation.x"]
    code, _, _ = _convert(capsys, str(path), "-o", str(tmp_path / "o.npz"), "--allow-object")
    arrays, _ = _load(tmp_path / "o.npz")
    obs = arrays["/obs/data"]
    assert obs.dtype == object and [a.shape for a in obs] == [(2,), (2,), (4,)] and obs[2].dtype == np.int16


def test_map_keys_missing_in_some_messages_fill_nan(tmp_path: Path) -> None:
    messages = []
    for i in range(4):
        msg = Scalars(step=i)
        msg.values["mean_reward"] = i / 2
        if i % 2:
            msg.values["loss"] = float(i)
        messages.append(("/sim/reward", "simrec.Scalars", T0 + i * MS, msg.SerializeToString()))
    path = write_log(tmp_path / "scalars.mcap", messages)
    arrays = simrec_node.open(path).to_numpy("/sim/reward")
    np.testing.assert_array_equal(arrays["values.mean_reward"], [0, 0.5, 1, 1.5])
    np.testing.assert_array_equal(arrays["values.loss"], [np.nan, 1, np.nan, 3])


def test_truncated_log_converts_what_can_be_read(tmp_path: Path, capsys) -> None:
    messages, expected = state_batches(200, 2)
    path = write_log(tmp_path / "full.mcap", messages, chunk_size=4096)
    cut = tmp_path / "cut.mcap"
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    code, _, err = _convert(capsys, str(cut), "-o", str(tmp_path / "cut.npz"))
    assert code == 0 and "warning" in err and "truncated" in err
    arrays, meta = _load(tmp_path / "cut.npz")
    rows = len(arrays["/sim/state/step"])
    assert 50 < rows < 200 and meta["problems"]
    np.testing.assert_array_equal(arrays["/sim/state/tensors.qpos"], expected["tensors.qpos"][:rows])


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["-t", "/nope"], "numeric topics: /clock, /sim/state"),
        (["-o2", "missing_dir/x.npz"], "does not exist"),
        (["--align", "/clock", "--hz", "5"], "alternatives"),
        (["-t", "/clock", "--start", "2", "--end", "1"], "before --start"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, state_log, capsys, argv, needle, monkeypatch) -> None:
    path, _ = state_log
    monkeypatch.chdir(tmp_path)
    output = ["-o", "out.npz"] if argv[0] != "-o2" else ["-o", argv[1]]
    argv = argv if argv[0] != "-o2" else []
    code, _, err = _convert(capsys, str(path), *output, *argv)
    assert code == 2 and needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_refuses_to_overwrite_and_not_mcap(tmp_path: Path, state_log, capsys) -> None:
    path, _ = state_log
    out = tmp_path / "o.npz"
    out.write_bytes(b"keep me")
    code, _, err = _convert(capsys, str(path), "-o", str(out))
    assert code == 2 and "--overwrite" in err and out.read_bytes() == b"keep me"
    assert _convert(capsys, str(path), "-o", str(out), "--overwrite", "-q") == (0, "", "")
    assert "/sim/state/step" in np.load(out).files
    junk = tmp_path / "junk.mcap"
    junk.write_bytes(b"not an mcap file at all")
    code, _, err = _convert(capsys, str(junk), "-o", str(tmp_path / "j.npz"))
    assert code == 2 and "not an MCAP file" in err


def test_reader_api(state_log) -> None:
    path, expected = state_log
    with simrec_node.open(path) as log:
        assert log.topics["/sim/state"].count == 40 and log.topics["/clock"].type_name == "simrec.Clock"
        seen = list(log.iter(topics=["/sim/state"], start=0.0, end=0.05))
        assert [t for t, _, _ in seen] == ["/sim/state"] * 6
        _, log_time, view = seen[3]
        assert log_time == T0 + 30 * MS and view.step == 4
        np.testing.assert_array_equal(view.tensors["qpos"], expected["tensors.qpos"][3])
        with pytest.raises(ConvertError, match="image topics: none"):
            log.to_numpy("/camera")


@pytest.mark.torch
def test_torch_datasets_yield_the_same_values(tmp_path: Path, state_log) -> None:
    torch = pytest.importorskip("torch")
    from simrec_node.convert import LogIterableDataset, StateBatchDataset

    path, expected = state_log
    other = write_log(tmp_path / "second.mcap", state_batches(5, 3)[0])
    dataset = StateBatchDataset([path, other])
    assert len(dataset) == 45
    item = dataset[7]
    assert item["tensors.qpos"].dtype == torch.float32
    np.testing.assert_array_equal(item["tensors.qpos"].numpy(), expected["tensors.qpos"][7])
    assert int(dataset[-1]["step"]) == 5 and int(dataset[40]["step"]) == 1
    loader = torch.utils.data.DataLoader(dataset, batch_size=8)
    first = next(iter(loader))
    assert first["tensors.qpos"].shape == (8, 3, 2)
    np.testing.assert_array_equal(first["tensors.reward"].numpy(), expected["tensors.reward"][:8])
    stream = list(LogIterableDataset(path, topics=["/clock"]))
    assert [int(s["clock.seconds"]) for s in stream] == list(range(9)) and stream[0]["topic"] == "/clock"


def test_corrupt_chunk_is_reported_and_the_rest_converted(tmp_path: Path, capsys) -> None:
    from mcap.reader import make_reader

    messages, expected = state_batches(120, 2)
    path = write_log(tmp_path / "full.mcap", messages, compression="none", chunk_size=4096)
    with open(path, "rb") as f:
        chunks = make_reader(f).get_summary().chunk_indexes
    data = bytearray(path.read_bytes())
    bad = chunks[3]
    middle = bad.chunk_start_offset + bad.chunk_length // 2
    data[middle : middle + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    code, _, err = _convert(capsys, str(path), "-o", str(tmp_path / "c.npz"))
    assert code == 0 and "corrupt (CRC mismatch)" in err
    arrays, meta = _load(tmp_path / "c.npz")
    steps = arrays["/sim/state/step"].astype(np.int64)
    assert 60 < len(steps) < 120 and len(meta["problems"]) == 1
    np.testing.assert_array_equal(arrays["/sim/state/tensors.qpos"], expected["tensors.qpos"][steps - 1])


def test_non_protobuf_channel_is_reported_not_fatal(tmp_path: Path, capsys) -> None:
    from simrec_node.record import McapWriter

    messages, expected = state_batches(5, 2)
    path = tmp_path / "mixed.mcap"
    with McapWriter(path) as writer:
        state = writer.add_channel(
            "/sim/state", "protobuf", writer.add_schema("simrec.StateBatch", "protobuf", _state_schema())
        )
        notes = writer.add_channel("/notes", "json", writer.add_schema("Note", "jsonschema", b"{}"))
        for i, (_, _, log_time, data) in enumerate(messages):
            writer.write(state, i, log_time, log_time, data)
            writer.write(notes, i, log_time, log_time, b'{"text": "hi"}')
    code, _, err = _convert(capsys, str(path), "-o", str(tmp_path / "m.npz"))
    assert code == 0 and "/notes: cannot decode Note messages encoded as 'json'" in err
    arrays, _ = _load(tmp_path / "m.npz")
    np.testing.assert_array_equal(arrays["/sim/state/tensors.qpos"], expected["tensors.qpos"])


def _state_schema() -> bytes:
    from simrec_node.msgs import StateBatch, descriptor_set_of

    return descriptor_set_of(StateBatch)
