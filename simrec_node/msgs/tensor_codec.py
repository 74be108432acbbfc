"""Fast numpy <-> ``simrec.Tensor`` / ``simrec.StateBatch`` codec.

Filling a protobuf repeated field from numpy goes element by element and costs far more than
the copy itself, so this module writes and reads the protobuf wire format by hand: the tensor
data is one length-delimited packed field whose payload *is* the little-endian C-order numpy
buffer. Encoding is one copy (a ``bytes.join`` of a small header and the array buffer);
decoding is a parse of a few top-level tags and a zero-copy ndarray view of the payload
(what ``np.frombuffer`` gives, shaped in the same call). Headers of shapes seen before are
cached, so a stream of same-shaped tensors skips most of the parsing.

The encoder writes exactly what ``Tensor.SerializeToString()`` writes for the same message,
and the decoder accepts any valid protobuf encoding (any field order, repeated occurrences
merged as protobuf merges them, unpacked repeated elements, unknown fields skipped).
"""

from .tensor_decode import (
    StateBatchView,
    decode_state_batch,
    decode_state_batches,
    decode_tensor,
    decode_tensors,
    tensor_to_numpy,
)
from .tensor_encode import encode_state_batch, encode_tensor, numpy_to_tensor

__all__ = [
    "StateBatchView",
    "decode_state_batch",
    "decode_state_batches",
    "decode_tensor",
    "decode_tensors",
    "encode_state_batch",
    "encode_tensor",
    "numpy_to_tensor",
    "tensor_to_numpy",
]
