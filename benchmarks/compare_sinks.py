"""The recorders compared by compare.py, behind one small interface (a "sink").

Each sink takes what the workload loop produces (``state``, ``image``, ``message``), writes it
the way a user of that tool would, and ``close()`` leaves a finished file. ``records`` counts
what it was handed, in the unit its reader counts (compare_read.py) so the two can be checked.
Peers' packages are imported inside their sink so one case's imports never load in another.

The MCAP peers (foxglove-sdk, ``mcap``) write the same protobuf payloads simrec writes, encoded
with simrec's tensor codec (the fastest way they have to encode a tensor), so the files hold
the same data and the comparison is of the writers.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import numpy as np

STATE_TOPIC = "/sim/state"
CAM_FPS = 30


def camera_topic(cam: int) -> str:
    return f"/camera/rgb{cam}"


def flood_topic(index: int) -> str:
    return f"/flood/t{index:02d}"


def jpeg(frame: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes as a Foxglove user writes them by hand (Pillow, simrec's default quality)."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(frame).save(out, format="JPEG", quality=quality)
    return out.getvalue()


class Sink:
    """Records nothing: the loop's own cost, the baseline of every slowdown."""

    suffix = ""

    def __init__(self, path: Path) -> None:
        self.path = path.with_suffix(self.suffix) if self.suffix else path
        self.files: list[Path] = [self.path] if self.suffix else []
        self.records = 0

    def state(self, step: int, t: float, state: np.ndarray, reward: np.ndarray, done: np.ndarray) -> None:
        pass

    def image(self, cam: int, step: int, t: float, frame: np.ndarray) -> None:
        pass

    def message(self, topic: int, i: int, payload: np.ndarray) -> None:
        pass

    def close(self) -> None:
        pass


class SimrecSink(Sink):
    """simrec's in-process Recorder, used as its docs say (a dict of arrays is one StateBatch)."""

    suffix = ".mcap"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        from simrec_node.integrations import Recorder

        self.rec = Recorder(self.path)

    def state(self, step: int, t: float, state: np.ndarray, reward: np.ndarray, done: np.ndarray) -> None:
        self.rec.log(STATE_TOPIC, {"state": state, "reward": reward, "done": done}, step=step, sim_time=t)
        self.records += 1

    def image(self, cam: int, step: int, t: float, frame: np.ndarray) -> None:
        self.rec.log_image(camera_topic(cam), frame, sim_time=t)
        self.records += 1

    def message(self, topic: int, i: int, payload: np.ndarray) -> None:
        self.rec.log(flood_topic(topic), payload, step=i)
        self.records += 1

    def close(self) -> None:
        self.rec.close()


class PublisherSink(Sink):
    """The simulation side of simrec across processes: publishes on the graph, records nothing."""

    def __init__(self, node: Any) -> None:
        super().__init__(Path("graph"))
        from simrec_node.msgs import CompressedImage, StateBatch, Tensor

        self.node = node
        self.types = {"state": StateBatch, "image": CompressedImage, "tensor": Tensor}
        self.publishers: dict[str, Any] = {}

    def publisher(self, topic: str, kind: str) -> Any:
        pub = self.publishers.get(topic)
        if pub is None:
            from simrec_node.graph import TypeInfo

            pub = self.publishers[topic] = self.node.create_publisher(TypeInfo.of(self.types[kind]), topic)
        return pub

    def state(self, step: int, t: float, state: np.ndarray, reward: np.ndarray, done: np.ndarray) -> None:
        from simrec_node.msgs import encode_state_batch

        data = encode_state_batch({"state": state, "reward": reward, "done": done}, step=step, sim_time=t)
        self.publisher(STATE_TOPIC, "state").publish(data, stamp_ns=round(t * 1e9))
        self.records += 1

    def image(self, cam: int, step: int, t: float, frame: np.ndarray) -> None:
        from simrec_node.msgs import encode_compressed_image

        stamp = round(t * 1e9)
        data = encode_compressed_image(frame, format="jpeg", stamp_ns=stamp)
        self.publisher(camera_topic(cam), "image").publish(data, stamp_ns=stamp)
        self.records += 1

    def message(self, topic: int, i: int, payload: np.ndarray) -> None:
        from simrec_node.msgs import encode_tensor

        self.publisher(flood_topic(topic), "tensor").publish(encode_tensor(payload))
        self.records += 1


class SavezSink(Sink):
    """The hand-written baseline: copies appended to lists, ``np.savez`` at the end, imageio MP4."""

    suffix = ".npz"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.columns: dict[str, list[np.ndarray]] = {}
        self.videos: dict[int, Any] = {}

    def _append(self, key: str, array: np.ndarray) -> None:
        self.columns.setdefault(key, []).append(array.copy())
        self.records += 1

    def state(self, step: int, t: float, state: np.ndarray, reward: np.ndarray, done: np.ndarray) -> None:
        self._append("state", state)
        self._append("reward", reward)
        self._append("done", done)

    def image(self, cam: int, step: int, t: float, frame: np.ndarray) -> None:
        writer = self.videos.get(cam)
        if writer is None:
            import imageio.v2 as imageio

            video = self.path.with_name(f"{self.path.stem}-cam{cam}.mp4")
            self.files.append(video)
            writer = self.videos[cam] = imageio.get_writer(video, fps=CAM_FPS, macro_block_size=1)
        writer.append_data(frame)
        self.records += 1

    def message(self, topic: int, i: int, payload: np.ndarray) -> None:
        self._append(f"t{topic:02d}", payload)

    def close(self) -> None:
        for writer in self.videos.values():
            writer.close()
        np.savez(self.path, **{key: np.stack(rows) for key, rows in self.columns.items()})


class RerunSink(Sink):
    """Rerun: tensors as ``rr.Tensor``, frames as ``rr.Image``, saved to an .rrd file."""

    suffix = ".rrd"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        import rerun as rr

        self.rr = rr
        self.stream = rr.RecordingStream("simrec_compare")
        self.stream.save(self.path)

    def state(self, step: int, t: float, state: np.ndarray, reward: np.ndarray, done: np.ndarray) -> None:
        rr, stream = self.rr, self.stream
        stream.set_time("step", sequence=step)
        stream.log("sim/state", rr.Tensor(state))
        stream.log("sim/reward", rr.Tensor(reward))
        stream.log("sim/done", rr.Tensor(done.view(np.uint8)))  # Rerun tensors hold no bool
        self.records += 3

    def image(self, cam: int, step: int, t: float, frame: np.ndarray) -> None:
        self.stream.set_time("step", sequence=step)
        self.stream.log(f"camera/rgb{cam}", self.rr.Image(frame))
        self.records += 1

    def message(self, topic: int, i: int, payload: np.ndarray) -> None:
        self.stream.set_time("step", sequence=i)
        self.stream.log(f"flood/t{topic:02d}", self.rr.Tensor(payload))
        self.records += 1

    def close(self) -> None:
        self.stream.flush()
        self.stream.disconnect()


class FoxgloveSink(Sink):
    """foxglove-sdk logging straight to MCAP: custom protobuf channels, its own CompressedImage."""

    suffix = ".mcap"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        import foxglove

        self.foxglove = foxglove
        self.context = foxglove.Context()
        self.writer = foxglove.open_mcap(self.path, context=self.context, allow_overwrite=True)
        self.channels: dict[str, Any] = {}

    def _channel(self, topic: str, message_class: Any) -> Any:
        channel = self.channels.get(topic)
        if channel is None:
            from simrec_node.msgs import descriptor_set_of

            schema = self.foxglove.Schema(
                name=message_class.DESCRIPTOR.full_name,
                encoding="protobuf",
                data=descriptor_set_of(message_class),
            )
            channel = self.channels[topic] = self.foxglove.Channel(
                topic, schema=schema, message_encoding="protobuf", context=self.context
            )
        return channel

    def state(self, step: int, t: float, state: np.ndarray, reward: np.ndarray, done: np.ndarray) -> None:
        from simrec_node.msgs import StateBatch, encode_state_batch

        data = encode_state_batch({"state": state, "reward": reward, "done": done}, step=step, sim_time=t)
        self._channel(STATE_TOPIC, StateBatch).log(data, log_time=time.time_ns())
        self.records += 1

    def image(self, cam: int, step: int, t: float, frame: np.ndarray) -> None:
        from foxglove.channels import CompressedImageChannel
        from foxglove.messages import CompressedImage, Timestamp

        topic = camera_topic(cam)
        channel = self.channels.get(topic)
        if channel is None:
            channel = self.channels[topic] = CompressedImageChannel(topic, context=self.context)
        sec = int(t)
        stamp = Timestamp(sec, round((t - sec) * 1e9))
        channel.log(
            CompressedImage(timestamp=stamp, data=jpeg(frame), format="jpeg"), log_time=time.time_ns()
        )
        self.records += 1

    def message(self, topic: int, i: int, payload: np.ndarray) -> None:
        from simrec_node.msgs import Tensor, encode_tensor

        self._channel(flood_topic(topic), Tensor).log(encode_tensor(payload), log_time=time.time_ns())
        self.records += 1

    def close(self) -> None:
        self.writer.close()


class McapSink(Sink):
    """The ``mcap`` package's Writer directly, with the same payloads simrec writes."""

    suffix = ".mcap"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        from mcap.writer import Writer

        self.file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self.writer = Writer(self.file)
        self.writer.start(profile="", library="compare")
        self.channels: dict[str, int] = {}
        self.sequences: dict[int, int] = {}

    def _write(self, topic: str, message_class: Any, data: bytes, publish_time: int) -> None:
        channel = self.channels.get(topic)
        if channel is None:
            from simrec_node.msgs import descriptor_set_of

            schema = self.writer.register_schema(
                message_class.DESCRIPTOR.full_name, "protobuf", descriptor_set_of(message_class)
            )
            channel = self.channels[topic] = self.writer.register_channel(topic, "protobuf", schema)
        sequence = self.sequences.get(channel, 0)
        self.sequences[channel] = sequence + 1
        self.writer.add_message(channel, time.time_ns(), data, publish_time, sequence)
        self.records += 1

    def state(self, step: int, t: float, state: np.ndarray, reward: np.ndarray, done: np.ndarray) -> None:
        from simrec_node.msgs import StateBatch, encode_state_batch

        data = encode_state_batch({"state": state, "reward": reward, "done": done}, step=step, sim_time=t)
        self._write(STATE_TOPIC, StateBatch, data, round(t * 1e9))

    def image(self, cam: int, step: int, t: float, frame: np.ndarray) -> None:
        from simrec_node.msgs import CompressedImage, encode_compressed_image

        stamp = round(t * 1e9)
        self._write(camera_topic(cam), CompressedImage, encode_compressed_image(frame, stamp_ns=stamp), stamp)

    def message(self, topic: int, i: int, payload: np.ndarray) -> None:
        from simrec_node.msgs import Tensor, encode_tensor

        self._write(flood_topic(topic), Tensor, encode_tensor(payload), time.time_ns())

    def close(self) -> None:
        self.writer.finish()
        self.file.close()


SINKS: dict[str, type[Sink]] = {
    "none": Sink,
    "simrec": SimrecSink,
    "savez": SavezSink,
    "rerun": RerunSink,
    "foxglove": FoxgloveSink,
    "mcap": McapSink,
}
