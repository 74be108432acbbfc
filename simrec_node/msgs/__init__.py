"""simrec's message types and codecs: protobuf classes, the fast tensor codec, schemas, images."""

from simrec_node.msgs.foxglove_types import (
    CompressedImage,
    FrameTransforms,
    RawImage,
    SceneUpdate,
    foxglove_message_class,
)
from simrec_node.msgs.images import decode_image, encode_compressed_image, encode_raw_image
from simrec_node.msgs.schema import descriptor_set_of, message_class_for
from simrec_node.msgs.simrec.clock_pb2 import Clock
from simrec_node.msgs.simrec.episode_pb2 import Episode
from simrec_node.msgs.simrec.recorder_stats_pb2 import RecorderStats, RecorderTopicStats
from simrec_node.msgs.simrec.scalars_pb2 import Scalars
from simrec_node.msgs.simrec.state_batch_pb2 import StateBatch
from simrec_node.msgs.simrec.tensor_pb2 import Tensor
from simrec_node.msgs.tensor_codec import (
    StateBatchView,
    decode_state_batch,
    decode_state_batches,
    decode_tensor,
    decode_tensors,
    encode_state_batch,
    encode_tensor,
    numpy_to_tensor,
    tensor_to_numpy,
)

__all__ = [
    "Clock",
    "CompressedImage",
    "Episode",
    "FrameTransforms",
    "RawImage",
    "RecorderStats",
    "RecorderTopicStats",
    "Scalars",
    "SceneUpdate",
    "StateBatch",
    "StateBatchView",
    "Tensor",
    "decode_image",
    "decode_state_batch",
    "decode_state_batches",
    "decode_tensor",
    "decode_tensors",
    "descriptor_set_of",
    "encode_compressed_image",
    "encode_raw_image",
    "encode_state_batch",
    "encode_tensor",
    "foxglove_message_class",
    "message_class_for",
    "numpy_to_tensor",
    "tensor_to_numpy",
]
