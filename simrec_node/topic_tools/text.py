"""Readable text for any protobuf message, with long arrays cut short (``topic echo``)."""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

_INDENT = "  "


def message_to_text(message: Message, max_items: int = 16, max_bytes: int = 32) -> str:
    """YAML-like text; repeated fields beyond ``max_items`` and bytes beyond ``max_bytes`` are elided."""
    lines: list[str] = []
    _write_message(message, 0, lines, max_items, max_bytes)
    return "\n".join(lines) if lines else "{}"


def _write_message(message: Message, depth: int, lines: list[str], max_items: int, max_bytes: int) -> None:
    pad = _INDENT * depth
    for field, value in message.ListFields():
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            lines.append(f"{pad}{field.name}:")
            for key in sorted(value):
                item = value[key]
                if isinstance(item, Message):
                    lines.append(f"{pad}{_INDENT}{key}:")
                    _write_message(item, depth + 2, lines, max_items, max_bytes)
                else:
                    lines.append(f"{pad}{_INDENT}{key}: {_scalar(item, max_bytes)}")
        elif field.is_repeated:
            _write_repeated(field, value, depth, lines, max_items, max_bytes)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            lines.append(f"{pad}{field.name}:")
            _write_message(value, depth + 1, lines, max_items, max_bytes)
        elif field.type == FieldDescriptor.TYPE_ENUM:
            name = field.enum_type.values_by_number.get(value)
            lines.append(f"{pad}{field.name}: {name.name if name else value}")
        else:
            lines.append(f"{pad}{field.name}: {_scalar(value, max_bytes)}")


def _write_repeated(field, values, depth: int, lines: list[str], max_items: int, max_bytes: int) -> None:
    pad = _INDENT * depth
    shown = list(values[:max_items])
    more = len(values) - len(shown)
    suffix = f"  # ... {more} more ({len(values)} in all)" if more > 0 else ""
    if field.type != FieldDescriptor.TYPE_MESSAGE:
        items = ", ".join(_scalar(v, max_bytes) for v in shown)
        lines.append(f"{pad}{field.name}: [{items}]{suffix}")
        return
    lines.append(f"{pad}{field.name}:{suffix}")
    for item in shown:
        lines.append(f"{pad}- ")
        start = len(lines)
        _write_message(item, depth + 1, lines, max_items, max_bytes)
        if len(lines) > start:  # put the first field on the dash line, as YAML does
            lines[start - 1] = f"{pad}- " + lines.pop(start).strip()


def _scalar(value: object, max_bytes: int) -> str:
    if isinstance(value, bytes):
        head = value[:max_bytes].hex()
        return f"<{len(value)} bytes: {head}{'...' if len(value) > max_bytes else ''}>"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
