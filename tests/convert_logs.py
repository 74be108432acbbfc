"""Deterministic MCAP logs for the convert tests, written with simrec's own McapWriter."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simrec_node.msgs import (
    Clock,
    CompressedImage,
    FrameTransforms,
    RawImage,
    Scalars,
    StateBatch,
    Tensor,
    descriptor_set_of,
    encode_state_batch,
    encode_tensor,
)
from simrec_node.record import McapWriter

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
TYPES = {
    "simrec.StateBatch": StateBatch,
    "simrec.Tensor": Tensor,
    "simrec.Clock": Clock,
    "simrec.Scalars": Scalars,
    "foxglove.FrameTransforms": FrameTransforms,
    "foxglove.CompressedImage": CompressedImage,
    "foxglove.RawImage": RawImage,
}


def write_log(
    path: Path,
    messages: list[tuple[str, str, int, bytes]],
    *,
    compression: str = "zstd",
    chunk_size: int = 64 * 1024,
) -> Path:
    """``messages``: (topic, type name, log_time ns, payload); publish_time = log_time - 1 ms."""
    with McapWriter(path, compression=compression, chunk_size=chunk_size) as writer:
        channels: dict[str, int] = {}
        sequence: dict[str, int] = {}
        for topic, type_name, log_time, data in sorted(messages, key=lambda m: m[2]):
            if topic not in channels:
                schema = writer.add_schema(type_name, "protobuf", descriptor_set_of(TYPES[type_name]))
                channels[topic] = writer.add_channel(topic, "protobuf", schema)
            sequence[topic] = sequence.get(topic, 0) + 1
            writer.write(channels[topic], sequence[topic], log_time, log_time - MS, data)
    return path


def state_batches(
    steps: int, envs: int, *, period_ns: int = 10 * MS, done_at: dict[int, list[int]] | None = None
):
    """Deterministic StateBatch messages and the arrays they hold (time first)."""
    done_at = done_at or {}
    qpos = (np.arange(steps * envs * 2, dtype=np.float32).reshape(steps, envs, 2) / 7).astype(np.float32)
    reward = np.linspace(-1, 1, steps * envs).reshape(steps, envs)
    done = np.zeros((steps, envs), dtype=bool)
    for step, env_ids in done_at.items():
        done[step, env_ids] = True
    episode_step = np.arange(steps * envs, dtype=np.int32).reshape(steps, envs) % 50
    arrays = {
        "tensors.qpos": qpos,
        "tensors.reward": reward,
        "tensors.done": done,
        "tensors.episode_step": episode_step,
    }
    messages = []
    for i in range(steps):
        data = encode_state_batch(
            {k.removeprefix("tensors."): v[i] for k, v in arrays.items()}, step=i + 1, sim_time=i * 0.01
        )
        messages.append(("/sim/state", "simrec.StateBatch", T0 + i * period_ns, data))
    arrays["step"] = np.arange(1, steps + 1, dtype=np.uint64)
    arrays["sim_time"] = np.arange(steps) * 0.01
    arrays["log_time"] = T0 + np.arange(steps, dtype=np.int64) * period_ns
    return messages, arrays


def clocks(count: int, *, period_ns: int, offset_ns: int = 0):
    messages = []
    for i in range(count):
        msg = Clock(step=10 * i)
        msg.clock.seconds, msg.clock.nanos = i, 1000 * i
        messages.append(("/clock", "simrec.Clock", T0 + offset_ns + i * period_ns, msg.SerializeToString()))
    return messages


def tensors(shapes: list[tuple[int, ...]], *, period_ns: int = 10 * MS):
    out = []
    for i, shape in enumerate(shapes):
        out.append(
            (
                "/obs",
                "simrec.Tensor",
                T0 + i * period_ns + 1,
                encode_tensor(np.full(shape, i, dtype=np.int16)),
            )
        )
    return out
