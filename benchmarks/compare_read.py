"""Reading each peer's files back, as that peer's user would: everything into numpy, and a seek.

``read_back(case, files)`` returns the number of records it read (in the unit of the sink's
``records``), having turned every message into owned numpy arrays (images decoded to pixels),
all held at once, as a user who reads a log back holds it (an array freed as soon as it is
made lets the next one reuse its memory, which a reader that keeps its data never gets).
``seek(case, files, topic, fraction)`` opens the file and returns the first decoded frame at or
after ``fraction`` of the log. simrec's files are read with simrec's reader (numeric topics into
columns, as ``simrec_node.open(path).to_numpy`` does), the other MCAP
files with the ``mcap`` package's reader (foxglove-sdk has no reader), .rrd with Rerun's.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

_MCAP_CASES = ("simrec", "simrec-graph", "foxglove", "mcap")


def _jpeg_pixels(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


# ---------------------------------------------------------------- MCAP


def _simrec_value(message: object) -> object:
    """One message from simrec's reader as owned numpy arrays."""
    if isinstance(message, np.ndarray):
        return message.copy()
    tensors = getattr(message, "tensors", None)
    if tensors is not None:  # StateBatchView
        return {key: value.copy() for key, value in tensors.items()}
    return _jpeg_pixels(message.data)  # foxglove.CompressedImage


def _mcap_value(schema_name: str, data: bytes) -> object:
    from simrec_node.msgs import CompressedImage, decode_state_batch, decode_tensor

    if schema_name == "simrec.StateBatch":
        return {key: value.copy() for key, value in decode_state_batch(data).tensors.items()}
    if schema_name == "simrec.Tensor":
        return decode_tensor(data).copy()
    image = CompressedImage()
    image.ParseFromString(data)
    return _jpeg_pixels(image.data)


def _read_simrec(path: Path) -> int:
    """Every topic into columns in one pass, as ``to_numpy`` and the NPZ converter read
    (``collect``: tensor topics decoded a chunk at a time, camera frames decoded to pixels on a
    thread pool while the rest is read)."""
    import simrec_node
    from simrec_node.convert import collect

    with simrec_node.open(path) as reader:
        topics = [t for t in reader.topics if not t.startswith("/simrec/")]  # the recorder's own stats
        tables = collect(reader, topics).tables
        return sum(len(table.arrays()["log_time"]) for table in tables.values())


def _read_mcap(path: Path) -> int:
    from mcap.reader import make_reader

    with open(path, "rb") as f:
        kept = [
            _mcap_value(schema.name, message.data) for schema, _, message in make_reader(f).iter_messages()
        ]
    return len(kept)


def _seek_simrec(path: Path, topic: str, fraction: float) -> object:
    import simrec_node

    reader = simrec_node.open(path)
    start = fraction * (reader.end_ns - reader.start_ns) / 1e9
    _, _, message = next(reader.iter(topic, start=start))
    return _simrec_value(message)


def _seek_mcap(path: Path, topic: str, fraction: float) -> object:
    from mcap.reader import make_reader

    with open(path, "rb") as f:
        reader = make_reader(f)
        stats = reader.get_summary().statistics
        at = stats.message_start_time + int(fraction * (stats.message_end_time - stats.message_start_time))
        schema, _, message = next(reader.iter_messages(topics=[topic], start_time=at))
        return _mcap_value(schema.name, message.data)


# ---------------------------------------------------------------- Rerun


def _rerun_column(batch: object, name: str) -> np.ndarray:
    """All rows of one Rerun component column of a chunk as one owned array."""
    column = batch.column(name)
    rows = len(column)
    if name == "Tensor:data":
        structs = column.flatten()
        shape = [int(n) for n in structs.field("shape")[0].values.to_numpy()]
        union = structs.field("buffer")
        (code,) = np.unique(union.type_codes.to_numpy())
        values = union.field(int(code)).flatten().to_numpy(zero_copy_only=False)
        return np.array(values.reshape(rows, *shape))
    formats = batch.column("Image:format").flatten()
    height, width = formats.field("height")[0].as_py(), formats.field("width")[0].as_py()
    values = column.flatten().flatten().to_numpy(zero_copy_only=False)
    return np.array(values.reshape(rows, height, width, -1))


def _rerun_row(batch: object, name: str, row: int) -> np.ndarray:
    """One row of a chunk's component column, without converting the rest of the chunk."""
    cell = batch.column(name)[row].values  # this row's list of one instance
    if name == "Tensor:data":
        tensor = cell[0]
        shape = [int(n) for n in tensor["shape"].values.to_numpy()]
        return np.array(tensor["buffer"].value.values.to_numpy(zero_copy_only=False)).reshape(shape)
    image_format = batch.column("Image:format")[row].values[0]
    height, width = image_format["height"].as_py(), image_format["width"].as_py()
    return np.array(cell.flatten().to_numpy(zero_copy_only=False)).reshape(height, width, -1)


def _rerun_chunks(path: Path, entity: str | None = None):
    from rerun.chunk import RrdReader

    stream = RrdReader(path).store().stream()
    if entity is not None:
        stream = stream.filter(content=entity)
    for chunk in stream:
        if chunk.is_static:
            continue
        batch = chunk.to_record_batch()
        for name in ("Tensor:data", "Image:buffer"):
            if name in batch.schema.names:
                yield batch, name


def _read_rerun(path: Path) -> int:
    columns = [_rerun_column(batch, name) for batch, name in _rerun_chunks(path)]  # all held, as read
    return sum(len(column) for column in columns)


def _seek_rerun(path: Path, topic: str, step: int) -> object:
    """Rerun 0.41's Python API has no time query: stream the entity's chunks (the others are not
    loaded) to the one holding ``step``."""
    for batch, name in _rerun_chunks(path, "/" + topic.strip("/")):
        steps = batch.column("step").to_numpy()
        row = int(np.searchsorted(steps, step))
        if row < len(steps):
            return _rerun_row(batch, name, row)
    raise RuntimeError(f"no frame at step {step} in {path}")


# ---------------------------------------------------------------- NPZ and MP4


def _read_npz(path: Path) -> int:
    with np.load(path) as archive:
        arrays = [np.array(archive[key]) for key in archive.files]  # all held, as read
    return sum(len(array) for array in arrays)


def _read_mp4(path: Path) -> int:
    import imageio.v2 as imageio

    with imageio.get_reader(path) as reader:
        return len([np.array(frame) for frame in reader])


def _seek_mp4(path: Path, fraction: float) -> object:
    import imageio.v2 as imageio

    with imageio.get_reader(path) as reader:
        frames = reader.count_frames()
        return np.array(reader.get_data(int(fraction * (frames - 1))))


def _seek_npz(path: Path, fraction: float) -> object:
    with np.load(path) as archive:
        rows = archive[archive.files[0]]
        return rows[int(fraction * (len(rows) - 1))].copy()


# ---------------------------------------------------------------- dispatch


def read_back(case: str, files: list[Path]) -> int:
    """Read every file the case wrote into numpy; the number of records read."""
    total = 0
    for path in files:
        if case in _MCAP_CASES:
            total += _read_simrec(path) if case.startswith("simrec") else _read_mcap(path)
        elif path.suffix == ".rrd":
            total += _read_rerun(path)
        elif path.suffix == ".npz":
            total += _read_npz(path)
        elif path.suffix == ".mp4":
            total += _read_mp4(path)
    return total


def seek(case: str, files: list[Path], topic: str, fraction: float, step: int) -> object | None:
    """The first decoded frame of ``topic`` at ``fraction`` of the log (``step`` for Rerun):
    an MP4 is seeked by frame index, an NPZ array is loaded whole and indexed."""
    if case.startswith("simrec"):
        return _seek_simrec(files[0], topic, fraction)
    if case in _MCAP_CASES:
        return _seek_mcap(files[0], topic, fraction)
    if files[0].suffix == ".rrd":
        return _seek_rerun(files[0], topic, step)
    videos = [p for p in files if p.suffix == ".mp4"]
    if "camera" in topic and videos:
        return _seek_mp4(videos[0], fraction)
    if files[0].suffix == ".npz":
        return _seek_npz(files[0], fraction)
    return None
