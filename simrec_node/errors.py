"""The one root of every error simrec raises on purpose.

The CLI prints any ``SimrecError`` as one line and exits non-zero; anything else is a bug and
keeps its traceback. Each package keeps its own small error classes, all derived from this.
"""

from __future__ import annotations


class SimrecError(Exception):
    """An error simrec raises on purpose: it says what went wrong and what to do."""
