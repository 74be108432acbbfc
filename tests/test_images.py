"""Camera frames through foxglove.CompressedImage / foxglove.RawImage."""

from __future__ import annotations

import time

import foxglove.messages
import numpy as np
import pytest

from simrec_node.msgs import (
    RawImage,
    decode_image,
    encode_compressed_image,
    encode_raw_image,
    message_class_for,
)


def sdk_class(name: str):
    """The class straight from foxglove-sdk's own schema, independent of foxglove_types."""
    schema = getattr(foxglove.messages, name).get_schema()
    return message_class_for(schema.name, schema.data)


def noise(shape: tuple[int, ...], dtype=np.uint8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def gradient(height: int = 48, width: int = 64) -> np.ndarray:
    """A smooth image: JPEG keeps it close, unlike noise."""
    y, x = np.mgrid[0:height, 0:width]
    channels = [x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)]
    return np.stack(channels, -1).astype(np.uint8)


# --- CompressedImage -------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(48, 64, 3), (31, 17), (8, 9, 4), (5, 6, 1)], ids=str)
def test_png_round_trip_is_exact(shape: tuple[int, ...]) -> None:
    image = noise(shape)
    decoded = decode_image("foxglove.CompressedImage", encode_compressed_image(image, format="png"))
    expected = image[:, :, 0] if shape[-1:] == (1,) else image
    assert decoded.dtype == np.uint8 and np.array_equal(decoded, expected)


@pytest.mark.parametrize("image", [gradient(), gradient()[:, :, 0]], ids=["rgb", "mono"])
def test_jpeg_round_trip_within_tolerance(image: np.ndarray) -> None:
    decoded = decode_image("CompressedImage", encode_compressed_image(image, quality=95))
    assert decoded.shape == image.shape
    error = np.abs(decoded.astype(int) - image.astype(int))
    assert error.mean() < 2.0 and error.max() < 40


def test_compressed_image_decodes_with_the_sdk_schema() -> None:
    image = gradient()
    encoded = encode_compressed_image(image, format="jpeg", frame_id="cam0", stamp_ns=12_000_000_345)
    msg = sdk_class("CompressedImage").FromString(encoded)
    assert (msg.format, msg.frame_id) == ("jpeg", "cam0")
    assert (msg.timestamp.seconds, msg.timestamp.nanos) == (12, 345)
    assert msg.data[:2] == b"\xff\xd8"  # JPEG start-of-image
    png = sdk_class("CompressedImage").FromString(encode_compressed_image(image, format="PNG"))
    assert png.format == "png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"


def test_default_stamp_is_now() -> None:
    before = time.time_ns()
    msg = sdk_class("CompressedImage").FromString(encode_compressed_image(gradient(8, 8)))
    stamp = msg.timestamp.seconds * 1_000_000_000 + msg.timestamp.nanos
    assert before <= stamp <= time.time_ns()


def test_compressed_image_errors() -> None:
    with pytest.raises(ValueError, match="format"):
        encode_compressed_image(gradient(), format="bmp")
    with pytest.raises(TypeError, match="uint8"):
        encode_compressed_image(gradient().astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        encode_compressed_image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError, match="alpha"):
        encode_compressed_image(np.zeros((4, 4, 4), np.uint8), format="jpeg")
    bogus = sdk_class("CompressedImage")(format="jpeg", data=b"not a jpeg").SerializeToString()
    with pytest.raises(ValueError, match="jpeg"):
        decode_image("foxglove.CompressedImage", bogus)


def test_jpeg_that_libjpeg_only_warns_about_decodes_as_pillow_does() -> None:
    """Extraneous bytes before a marker: libjpeg warns, simplejpeg (strict) refuses, and the
    frame is decoded by Pillow instead, to the same pixels as the clean file's."""
    cls = sdk_class("CompressedImage")
    clean = encode_compressed_image(noise((48, 64, 3)))
    jpeg = cls.FromString(clean).data
    warned = cls(format="jpeg", data=jpeg[:-2] + b"\x00\x00" + jpeg[-2:]).SerializeToString()
    expected = decode_image("foxglove.CompressedImage", clean)
    np.testing.assert_array_equal(decode_image("foxglove.CompressedImage", warned), expected)
    truncated = cls(format="jpeg", data=jpeg[: len(jpeg) // 2]).SerializeToString()
    with pytest.raises(ValueError, match="cannot decode jpeg image data"):
        decode_image("foxglove.CompressedImage", truncated)


def test_damaged_jpeg_frames_decode_or_say_why() -> None:
    """Flipped bytes, zeroed runs and cuts anywhere in a frame: each one decodes (JPEG has no
    checksum) or raises ValueError; never another error, never a crash of the process."""
    cls = sdk_class("CompressedImage")
    jpeg = cls.FromString(encode_compressed_image(gradient(96, 128), quality=80)).data
    rng = np.random.default_rng(7)
    outcomes = {"decoded": 0, "refused": 0}
    for trial in range(300):
        data = bytearray(jpeg)
        at = int(rng.integers(0, len(data)))
        if trial % 3 == 0:
            data[at] ^= 1 << int(rng.integers(0, 8))
        elif trial % 3 == 1:
            end = at + int(rng.integers(1, 64))
            data[at:end] = bytes(len(data[at:end]))
        else:
            del data[at:]
        message = cls(format="jpeg", data=bytes(data)).SerializeToString()
        try:
            pixels = decode_image("foxglove.CompressedImage", message)
        except ValueError:
            outcomes["refused"] += 1
        else:
            assert pixels.dtype == np.uint8 and pixels.ndim in (2, 3)
            outcomes["decoded"] += 1
    assert outcomes["decoded"] > 0 and outcomes["refused"] > 0, outcomes


# --- RawImage --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "encoding", "step"),
    [
        (noise((6, 5, 3)), "rgb8", 15),
        (noise((6, 5, 4)), "rgba8", 20),
        (noise((6, 5)), "mono8", 5),
        (noise((6, 5), np.uint16), "mono16", 10),
        (noise((6, 5), np.uint16).astype(">u2"), "mono16", 10),
        (np.random.default_rng(0).random((6, 5), dtype=np.float32), "32FC1", 20),
        (noise((0, 5, 3)), "rgb8", 15),
    ],
    ids=["rgb8", "rgba8", "mono8", "mono16", "mono16-big-endian", "32FC1", "empty"],
)
def test_raw_image_round_trip(image: np.ndarray, encoding: str, step: int) -> None:
    encoded = encode_raw_image(image, frame_id="depth", stamp_ns=7)
    msg = sdk_class("RawImage").FromString(encoded)
    height, width = image.shape[:2]
    assert (msg.width, msg.height, msg.encoding, msg.step) == (width, height, encoding, step)
    assert (msg.frame_id, msg.timestamp.seconds, msg.timestamp.nanos) == ("depth", 0, 7)
    assert len(msg.data) == step * height
    decoded = decode_image("foxglove.RawImage", encoded)
    assert decoded.dtype == image.dtype.newbyteorder("=") and np.array_equal(decoded, image)


def test_raw_image_explicit_encoding_and_non_contiguous_input() -> None:
    image = noise((8, 6, 3))[::2, ::-1]
    decoded = decode_image("foxglove.RawImage", encode_raw_image(image, encoding="bgr8"))
    assert np.array_equal(decoded, image)  # channels stay in stored (BGR) order


def test_raw_image_with_row_padding() -> None:
    image = noise((4, 3, 3))
    padded = np.zeros((4, 16), np.uint8)
    padded[:, :9] = image.reshape(4, 9)
    msg = RawImage(width=3, height=4, encoding="rgb8", step=16, data=padded.tobytes()[:-7])
    assert np.array_equal(decode_image("foxglove.RawImage", msg.SerializeToString()), image)


def test_raw_image_errors() -> None:
    with pytest.raises(TypeError, match="encoding"):
        encode_raw_image(np.zeros((4, 4), np.float64))
    with pytest.raises(TypeError, match="uint8"):
        encode_raw_image(np.zeros((4, 4), np.uint16), encoding="mono8")
    with pytest.raises(ValueError, match="channel"):
        encode_raw_image(np.zeros((4, 4), np.uint8), encoding="rgb8")
    with pytest.raises(ValueError, match="unsupported"):
        encode_raw_image(np.zeros((4, 4), np.uint8), encoding="yuv422")
    short = RawImage(width=4, height=4, encoding="mono8", step=4, data=b"\x00" * 15)
    with pytest.raises(ValueError, match="data bytes"):
        decode_image("foxglove.RawImage", short.SerializeToString())
    with pytest.raises(ValueError, match="unsupported"):
        decode_image("foxglove.RawImage", RawImage(encoding="nv12").SerializeToString())
    with pytest.raises(ValueError, match="malformed"):
        decode_image("foxglove.RawImage", b"\xff\xff")
    with pytest.raises(ValueError, match=r"foxglove\.Log"):
        decode_image("foxglove.Log", b"")
