"""MCAP -> Parquet: one table per topic, read back with pyarrow and DuckDB, equal to the log's values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simrec_node.cli.main import main
from simrec_node.convert import NpzOptions, build_arrays, open_log
from tests.convert_logs import MS, T0, clocks, state_batches, tensors, write_log


def _convert(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["convert", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def state_log(tmp_path: Path):
    messages, arrays = state_batches(40, 3, done_at={9: [0], 25: [1, 2]})
    messages += clocks(9, period_ns=50 * MS, offset_ns=5 * MS)
    messages += tensors([(4, 5)] * 12)
    return write_log(tmp_path / "run.mcap", messages), arrays


def _nested(column) -> np.ndarray:
    """A pyarrow column of (nested) fixed-size lists back to one numpy array [T, ...]."""
    import pyarrow as pa

    array = column.combine_chunks()
    shape = [len(array)]
    while pa.types.is_fixed_size_list(array.type):
        shape.append(array.type.list_size)
        array = array.flatten()
    return array.to_numpy(zero_copy_only=False).reshape(shape)


def test_round_trip_through_pyarrow(tmp_path: Path, state_log, capsys) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path, expected = state_log
    out = tmp_path / "run.parquet"
    code, stdout, _ = _convert(capsys, str(path), "-o", str(out))
    assert code == 0 and "3 tables" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["clock.parquet", "obs.parquet", "sim.state.parquet"]
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]

    state = pq.read_table(out / "sim.state.parquet")
    assert state.schema.metadata[b"simrec.topic"] == b"/sim/state"
    assert state.schema.field("log_time").type == pa.int64()
    assert state.schema.field("publish_time").type == pa.int64()
    assert pa.types.is_fixed_size_list(state.schema.field("tensors.qpos").type)
    for key, value in expected.items():
        got = _nested(state.column(key))
        assert got.dtype == value.dtype and got.shape == value.shape, key
        np.testing.assert_array_equal(got, value)
    np.testing.assert_array_equal(state.column("publish_time").to_numpy(), expected["log_time"] - MS)
    index = _nested(state.column("episode_index"))
    assert index[:, 0].tolist() == [0] * 10 + [1] * 30
    assert index[:, 1].tolist() == [0] * 26 + [1] * 14

    # every column equals what the one log reader's bulk decode gives for the same log
    reference = build_arrays(open_log(path), NpzOptions()).arrays
    for name in ("obs", "clock"):
        table = pq.read_table(out / f"{name}.parquet")
        topic = table.schema.metadata[b"simrec.topic"].decode()
        for key in table.column_names:
            np.testing.assert_array_equal(_nested(table.column(key)), reference[f"{topic}/{key}"])
    obs = _nested(pq.read_table(out / "obs.parquet").column("data"))
    assert obs.shape == (12, 4, 5) and obs.dtype == np.int16 and obs[7].tolist() == [[7] * 5] * 4


def test_duckdb_reads_the_same_values(tmp_path: Path, state_log, capsys) -> None:
    pytest.importorskip("pyarrow")
    duckdb = pytest.importorskip("duckdb")
    path, expected = state_log
    out = tmp_path / "out"
    code, _, _ = _convert(capsys, str(path), "--format", "parquet", "-o", str(out))
    assert code == 0
    db = duckdb.connect()
    rows = db.execute(
        f'SELECT log_time, publish_time, "tensors.qpos", "tensors.reward" '
        f"FROM read_parquet('{out / 'sim.state.parquet'}') ORDER BY log_time"
    ).fetchall()
    assert len(rows) == 40
    assert [r[0] for r in rows] == expected["log_time"].tolist()
    assert [r[1] for r in rows] == (expected["log_time"] - MS).tolist()
    np.testing.assert_array_equal(np.array([r[2] for r in rows], dtype=np.float32), expected["tensors.qpos"])
    np.testing.assert_array_equal(np.array([r[3] for r in rows]), expected["tensors.reward"])
    clock = db.execute(
        f"SELECT count(*), min(log_time) FROM read_parquet('{out / 'clock.parquet'}')"
    ).fetchall()
    assert clock == [(9, T0 + 5 * MS)]
    db.close()


def test_existing_outputs_are_refused_or_replaced_whole(tmp_path: Path, state_log, capsys) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    path, _ = state_log
    out = tmp_path / "run.parquet"
    assert _convert(capsys, str(path), "-o", str(out), "-t", "/clock")[0] == 0
    code, _, err = _convert(capsys, str(path), "-o", str(out))
    assert code == 2 and "already exists" in err and err.count("\n") == 1
    # --overwrite replaces the whole directory: the old topic set does not linger
    assert _convert(capsys, str(path), "-o", str(out), "-t", "/obs", "--overwrite")[0] == 0
    assert [p.name for p in out.iterdir()] == ["obs.parquet"]
    assert pq.read_table(out / "obs.parquet").num_rows == 12
    # a directory holding something else is never replaced
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    code, _, err = _convert(capsys, str(path), "--format", "parquet", "-o", str(other), "--overwrite")
    assert code == 2 and "holds other files" in err
    assert (other / "keep.txt").read_text() == "mine"
    # a file in the way
    (tmp_path / "file.parquet").write_text("x")
    code, _, err = _convert(capsys, str(path), "-o", str(tmp_path / "file.parquet"), "--overwrite")
    assert code == 2 and "not a Parquet output directory" in err
    code, _, err = _convert(capsys, str(path), "-o", str(tmp_path / "x.parquet"), "--hz", "10")
    assert code == 2 and "apply to .npz" in err
    assert not (tmp_path / "x.parquet").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name or ".old-" in p.name]
