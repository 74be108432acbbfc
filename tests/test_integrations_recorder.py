"""The in-process Recorder: values round-trip bit-exact through a real MCAP file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simrec_node import Recorder
from simrec_node.integrations import (
    InvalidTimeError,
    MissingClockError,
    RecorderClosedError,
    TopicTypeError,
    UnsupportedValueError,
)
from simrec_node.msgs import decode_image, decode_state_batch, decode_tensor
from simrec_node.msgs.tensor_codec import encode_state_batch, encode_tensor
from simrec_node.record import OutputError

from .integrations_helpers import read_messages, read_metadata


def test_arrays_scalars_dicts_and_images_round_trip(tmp_path):
    path = tmp_path / "run.mcap"
    state = np.zeros((8, 3), np.float32)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    sent = []
    with Recorder(path, image_format="png") as rec:
        for step in range(5):
            state[:] = rng.standard_normal((8, 3))  # the sim overwrites its buffer every step
            sent.append(state.copy())
            rec.log("sim/state", state, sim_time=step * 0.01, step=step)
            rec.log("reward", 0.5 * step, step=step)
            rec.log("batch", {"q": state, "done": state[:, 0] > 0}, step=step, sim_time=step * 0.01)
        rec.log_image("camera/rgb", frame, sim_time=0.05)
    got = read_messages(path)
    states = got["/sim/state"]
    assert [m.sequence for m, _ in states] == list(range(5))
    assert [m.publish_time for m, _ in states] == [round(s * 0.01 * 1e9) for s in range(5)]
    for (message, _), expected in zip(states, sent, strict=True):
        np.testing.assert_array_equal(decode_tensor(message.data), expected)
    assert [msg.values["value"] for _, msg in got["/reward"]] == [0.0, 0.5, 1.0, 1.5, 2.0]
    view = decode_state_batch(got["/batch"][3][0].data)
    assert view.step == 3 and view.num_envs == 8
    np.testing.assert_array_equal(view.tensors["done"], sent[3][:, 0] > 0)
    message, image = got["/camera/rgb"][0]
    assert image.format == "png"
    np.testing.assert_array_equal(decode_image("foxglove.CompressedImage", message.data), frame)
    meta = dict(read_metadata(path))
    assert meta["simrec.recording"]["mode"] == "in-process"
    stats = json.loads(meta["simrec.topic_stats"]["/sim/state"])
    assert stats["received"] == stats["written"] == 5 and stats["queue_dropped"] == 0


DEVICES = ["cpu", "cuda"]
# GPU cycles of torch.cuda._sleep that keep the stream busy for about a second (at ~2 GHz).
GPU_SECOND = 2_000_000_000


def _torch_on(device: str):
    """torch, imported here so that the module collects where the optional extra is missing; a
    CUDA case skips where there is no GPU."""
    torch = pytest.importorskip("torch")
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA")
    return torch


@pytest.mark.torch
@pytest.mark.parametrize("device", DEVICES)
def test_torch_tensors_read_back_bit_exact(tmp_path, device):
    torch = _torch_on(device)
    path = tmp_path / "torch.mcap"
    x = torch.randn(64, 16, device=device)
    sent = []
    with Recorder(path) as rec:
        for step in range(4):
            x.mul_(1.5).add_(1)  # in place: the recorder must have copied the previous value
            sent.append(x.cpu().numpy().copy())
            rec.log("state", x, step=step)
            rec.log("batch", {"x": x, "i": torch.arange(64, device=device)}, step=step)
    got = read_messages(path)
    for (message, _), expected in zip(got["/state"], sent, strict=True):
        assert decode_tensor(message.data).tobytes() == expected.tobytes()
    last = decode_state_batch(got["/batch"][-1][0].data)
    assert last.tensors["x"].tobytes() == sent[-1].tobytes()
    np.testing.assert_array_equal(last.tensors["i"], np.arange(64))


@pytest.mark.torch
@pytest.mark.parametrize("device", DEVICES)
def test_torch_dtypes_and_views_encode_as_on_the_cpu(tmp_path, device):
    torch = _torch_on(device)
    base = torch.randn(6, 10, device=device)
    values = {
        "f16": base.half(),
        "bf16": base.bfloat16(),
        "i64": (base * 100).long(),
        "bool": base > 0,
        "u8": (base * 50).to(torch.uint8),
        "transposed": base.T,
        "strided": base[1:, ::3],
        "scalar": base[2, 3],
        "empty": base[:0],
    }
    with Recorder(tmp_path / "dtypes.mcap") as rec:
        for name, value in values.items():
            rec.log(name, value)
        rec.log("batch", values)
    got = read_messages(tmp_path / "dtypes.mcap")
    for name, value in values.items():
        assert got[f"/{name}"][0][0].data == encode_tensor(value.cpu()), name
    assert got["/batch"][0][0].data == encode_state_batch({k: v.cpu() for k, v in values.items()})


@pytest.mark.torch
@pytest.mark.parametrize("device", DEVICES)
def test_unrepresentable_torch_dtypes_fail_at_log(tmp_path, device):
    torch = _torch_on(device)
    path = tmp_path / "bad_torch.mcap"
    with Recorder(path) as rec:
        with pytest.raises(UnsupportedValueError, match=r"/sim/z.*complex64"):
            rec.log("sim/z", torch.zeros(3, dtype=torch.complex64, device=device))
        with pytest.raises(UnsupportedValueError, match=r"/sim/b.*complex64"):
            rec.log(
                "sim/b", {"q": torch.zeros(3, device=device), "z": torch.zeros(3, 2, device=device).cfloat()}
            )
        rec.log("sim/ok", torch.ones(3, device=device))  # the recording goes on
    got = read_messages(path)
    assert list(got) == ["/sim/ok"]
    np.testing.assert_array_equal(decode_tensor(got["/sim/ok"][0][0].data), np.ones(3, np.float32))


@pytest.mark.torch
def test_cuda_log_does_not_wait_for_the_gpu(tmp_path):
    torch = _torch_on("cuda")
    x = torch.zeros(1024, device="cuda")
    with Recorder(tmp_path / "async.mcap") as rec:
        torch.cuda._sleep(GPU_SECOND)  # queued ahead of everything below
        x.fill_(7)
        rec.log("x", x)
        rec.log("batch", {"x": x})
        gpu_still_busy = not torch.cuda.current_stream().query()
        x.fill_(8)  # later work on the stream must not reach the recorded copy
    assert gpu_still_busy, "rec.log waited for the GPU"
    got = read_messages(tmp_path / "async.mcap")
    np.testing.assert_array_equal(decode_tensor(got["/x"][0][0].data), np.full(1024, 7, np.float32))
    np.testing.assert_array_equal(decode_state_batch(got["/batch"][0][0].data).tensors["x"], np.full(1024, 7))


@pytest.mark.torch
def test_pending_cuda_copies_count_against_max_queue_bytes(tmp_path):
    torch = _torch_on("cuda")
    path = tmp_path / "pinned.mcap"
    x = torch.ones(256, 1024, device="cuda")  # 1 MiB of pinned host memory per pending copy
    with Recorder(path, when_full="drop", max_queue_bytes=1, compression="none") as rec:
        torch.cuda._sleep(GPU_SECOND)  # the writer waits on the first copy while we log the rest
        for _ in range(50):
            rec.log("big", x)
    stats = json.loads(dict(read_metadata(path))["simrec.topic_stats"]["/big"])
    assert stats["received"] == 50 and stats["queue_dropped"] > 0
    assert (
        stats["written"] + stats["queue_dropped"]
        == 50
        == len(read_messages(path)["/big"]) + stats["queue_dropped"]
    )


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        (np.array([object(), 1], dtype=object), "dtype object"),
        ([[1, 2], [3]], "not a rectangular array"),
        (np.array(["a", "b"]), "dtype <U1"),
        (np.zeros(3, np.complex64), "complex64"),
        ({"a": np.array(["x"])}, "dtype <U1"),
        ("text", "cannot log str"),
    ],
)
def test_unrepresentable_values_name_topic_and_type(tmp_path, value, needle):
    with Recorder(tmp_path / "bad.mcap") as rec:
        with pytest.raises(UnsupportedValueError) as info:
            rec.log("sim/bad", value)
        assert isinstance(info.value, TypeError)
        assert "/sim/bad" in str(info.value) and needle in str(info.value)


def test_topic_with_two_types_and_log_after_close(tmp_path):
    rec = Recorder(tmp_path / "t.mcap")
    rec.log("x", np.zeros(3))
    with pytest.raises(TopicTypeError, match=r"/x carries simrec.Tensor.*simrec.Scalars"):
        rec.log("x", 1.0)
    rec.close()
    rec.close()  # twice is fine
    with pytest.raises(RecorderClosedError, match="closed"):
        rec.log("x", np.zeros(3))
    assert len(read_messages(tmp_path / "t.mcap")["/x"]) == 1


def test_refuses_to_overwrite(tmp_path):
    path = tmp_path / "run.mcap"
    path.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="already exists"):
        Recorder(path)
    assert path.read_bytes() == b"keep me"
    Recorder(path, overwrite=True).close()
    assert path.read_bytes() != b"keep me"


def test_drop_when_full_is_counted(tmp_path):
    path = tmp_path / "drop.mcap"
    big = np.ones((256, 1024), np.float32)  # 1 MiB per message, queue holds one
    with Recorder(path, when_full="drop", max_queue_bytes=1, queue_size=1, compression="none") as rec:
        for _ in range(200):
            rec.log("big", big)
    stats = json.loads(dict(read_metadata(path))["simrec.topic_stats"]["/big"])
    assert stats["received"] == 200
    assert stats["written"] + stats["queue_dropped"] == 200
    assert stats["written"] == len(read_messages(path)["/big"])


def test_data_funcs_sampled_at_their_rate_and_episodes(tmp_path):
    path = tmp_path / "genesis.mcap"
    counter = {"n": 0}

    def data() -> dict:
        counter["n"] += 1
        return {"pos": np.full(3, counter["n"], np.float32)}

    with Recorder(path) as rec:
        rec.add(data, "robot", hz=10)
        rec.add(lambda: 1.0, "every")
        dt = 0.01
        for i in range(100):
            rec.step(sim_time=i * dt, step=i)
            if i == 49:
                rec.episode_end(return_=12.5, success=True, terminated=True)
                rec.reset()
        rec.episode_end(return_=3.0, truncated=True)
    got = read_messages(path)
    assert len(got["/robot"]) == 10  # 1 s of sim time at 10 Hz
    assert [m.publish_time for m, _ in got["/robot"]][:3] == [0, 100_000_000, 200_000_000]
    assert len(got["/every"]) == 100
    episodes = [msg for _, msg in got["/episodes"]]
    assert [(e.episode_index, e.start_step, e.end_step, e.length) for e in episodes] == [
        (0, 0, 49, 50),
        (1, 50, 99, 50),
    ]
    assert episodes[0].HasField("success") and episodes[0].success and episodes[0].terminated
    assert not episodes[1].HasField("success") and episodes[1].truncated
    assert episodes[1].end_time == pytest.approx(0.99)


def test_step_without_sim_time_uses_dt_or_refuses(tmp_path):
    path = tmp_path / "dt.mcap"
    with Recorder(path, dt=0.01) as rec:  # Genesis-style: a dt, no sim_time at step()
        rec.add(lambda: {"x": 1.0}, "robot", hz=20)
        rec.add(lambda: 1.0, "every")
        for _ in range(100):
            rec.step()
    got = read_messages(path)
    assert [m.publish_time for m, _ in got["/robot"]] == [i * 50_000_000 for i in range(20)]
    assert [m.publish_time for m, _ in got["/every"]] == [round(i * 0.01 * 1e9) for i in range(100)]

    with Recorder(tmp_path / "step_dt.mcap") as rec:  # dt given per call
        rec.add(lambda: 1.0, "robot", hz=10)
        for _ in range(30):
            rec.step(dt=0.05)
    assert len(read_messages(tmp_path / "step_dt.mcap")["/robot"]) == 15  # 1.5 s at 10 Hz

    with Recorder(tmp_path / "no_clock.mcap") as rec:
        rec.add(lambda: 1.0, "robot", hz=10)
        with pytest.raises(MissingClockError, match=r"^rec.step\(\) has no sim time for 10 Hz sampling"):
            rec.step()
        rec.add(lambda: 1.0, "every")
        with pytest.raises(InvalidTimeError):
            rec.step(dt=-1.0)
    assert "/robot" not in read_messages(tmp_path / "no_clock.mcap")
