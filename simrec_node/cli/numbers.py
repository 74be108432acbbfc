"""Numbers on the command line, checked by argparse with messages in the user's words.

argparse names a ``type`` function in its error when the function raises ValueError
("invalid _positive_int value"); these raise ``ArgumentTypeError`` with what was expected instead.
"""

from __future__ import annotations

import argparse
import math


def _parse(text: str, kind: type, expected: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: a whole number above 0 (a count, a size in bytes)."""
    value = _parse(text, int, "a whole number above 0")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a number above 0 (a duration, a rate)."""
    value = _parse(text, float, "a number above 0")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a number of 0 or more (a delay, a period where 0 turns something off)."""
    value = _parse(text, float, "a number of 0 or more")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of 0 or more, got {text!r}")
    return value
