"""Tensor topics are decoded in bulk (one numpy gather per topic) exactly as one by one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import simrec_node
from simrec_node.msgs import decode_tensor, decode_tensors, encode_tensor
from tests.convert_logs import tensors, write_log


def rows_of(payloads: list[bytes]) -> np.ndarray:
    assert len({len(p) for p in payloads}) == 1
    return np.frombuffer(b"".join(payloads), dtype=np.uint8).reshape(len(payloads), -1)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "uint8", "float16", "bool", "int16"])
def test_bulk_equals_one_by_one(dtype: str) -> None:
    rng = np.random.default_rng(1)
    arrays = [(rng.standard_normal((3, 4)) * 50).astype(dtype) for _ in range(40)]
    payloads = [encode_tensor(a) for a in arrays]
    bulk = decode_tensors(rows_of(payloads))
    assert bulk is not None and bulk.shape == (40, 3, 4) and bulk.dtype == decode_tensor(payloads[0]).dtype
    np.testing.assert_array_equal(bulk, np.stack([decode_tensor(p) for p in payloads]))


def test_rows_of_another_layout_are_refused() -> None:
    same_size = [encode_tensor(np.zeros((2, 6), np.float32)), encode_tensor(np.zeros((3, 4), np.float32))]
    assert decode_tensors(rows_of(same_size)) is None  # same length, other shape: one by one


def test_to_numpy_of_a_tensor_topic(tmp_path: Path) -> None:
    path = write_log(tmp_path / "t.mcap", tensors([(2, 3)] * 50), chunk_size=512)
    arrays = simrec_node.open(path).to_numpy("/obs")
    assert arrays["data"].shape == (50, 2, 3) and arrays["data"].dtype == np.int16
    np.testing.assert_array_equal(arrays["data"][:, 0, 0], np.arange(50))
    assert arrays["log_time"].shape == (50,)


def test_to_numpy_of_ragged_tensors_falls_back(tmp_path: Path) -> None:
    path = write_log(tmp_path / "r.mcap", tensors([(2, 3), (2, 3), (4,)]))
    arrays = simrec_node.open(path).to_numpy("/obs", allow_object=True)
    assert [np.shape(a) for a in arrays["data"]] == [(2, 3), (2, 3), (4,)]
