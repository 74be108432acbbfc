"""Byte counts on the command line: ``1048576``, ``512K``, ``100MiB``, ``2G`` (powers of 1024)."""

from __future__ import annotations

import argparse
import re

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", re.IGNORECASE)


def parse_byte_size(text: str) -> int:
    """argparse type: a byte count with an optional K/M/G/T suffix."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected a byte count such as 1048576, 512K or 100M, got {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
