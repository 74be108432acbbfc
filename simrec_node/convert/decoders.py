"""Per-schema message decoders, chosen once per channel (a factory, not a branch per message).

simrec's tensor types take the zero-copy fast path (numpy views of the payload); every other
protobuf type is decoded with the class built from the schema stored in the file, so types
with no generated code decode too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simrec_node.msgs import decode_state_batch, decode_tensor, message_class_for

from .errors import ConvertError

Decoder = Callable[[Any], Any]

_FAST: dict[str, Decoder] = {
    "simrec.StateBatch": decode_state_batch,
    "simrec.Tensor": decode_tensor,
}


def decoder_for(schema_name: str, schema_encoding: str, schema_data: bytes, message_encoding: str) -> Decoder:
    """A function from serialized bytes to the decoded message for one channel.

    Raises ConvertError for channels that are not protobuf (simrec only writes protobuf).
    """
    if message_encoding != "protobuf" or (schema_encoding and schema_encoding != "protobuf"):
        raise ConvertError(
            f"cannot decode {schema_name or 'schemaless'} messages encoded as {message_encoding!r}: "
            "only protobuf channels can be converted"
        )
    fast = _FAST.get(schema_name)
    if fast is not None:
        return fast
    try:
        cls = message_class_for(schema_name, schema_data)
    except ValueError as exc:
        raise ConvertError(f"cannot build a decoder for {schema_name}: {exc}") from None
    parse = cls.FromString

    def decode(data: Any) -> Any:
        return parse(bytes(data))

    return decode
