"""Input files that an option with an optional or open-ended value swallowed.

``simrec convert --topics /a run.mcap -o x.npz`` and ``simrec play --clock run.mcap`` hand the
file to the option: argparse cannot tell a topic or a rate from a path. The commands take their
FILEs as ``nargs="*"`` and take back, here, what can only be a file: a value that names an existing
file or directory while no FILE was given.
"""

from __future__ import annotations

import os

from .errors import UsageError


def take_back_paths(values: list[str]) -> tuple[list[str], list[str]]:
    """``values`` split into what stays with the option and the trailing ones that exist on disk."""
    cut = len(values)
    while cut > 0 and os.path.exists(values[cut - 1]):
        cut -= 1
    return values[:cut], values[cut:]


def require_files(files: list[str], example: str) -> list[str]:
    """``files``, or a ``UsageError`` that shows where FILE goes."""
    if not files:
        raise UsageError(f"no input FILE: give the log first, e.g. {example}")
    return files


def refuse_stray_topics(files: list[str], topics: list[str]) -> None:
    """``-t /a /b run.mcap``: ``-t`` took /a only, and /b reads as a FILE. Say how to name both."""
    stray = [name for name in files if name.startswith("/") and not os.path.exists(name)]
    if stray and topics:
        named = " ".join(f"-t {topic}" for topic in [*topics, *stray])
        raise UsageError(
            f"no such file: {stray[0]}; if it is a topic, -t takes one topic each: {named} "
            f"(or --topics {' '.join([*topics, *stray])})"
        )
