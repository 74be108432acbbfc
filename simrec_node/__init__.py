"""simrec: record simulation and robot-learning runs to MCAP over a ROS 2-style node graph."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    from simrec_node.convert import LogReader

from simrec_node.errors import SimrecError
from simrec_node.version import __version__

__all__ = ["SimrecError", "__version__", "open"]


def open(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> LogReader:
    """Open a recorded MCAP log (a file, a split recording's directory, or a list of its files)
    as one log: ``.topics``, ``.iter(...)``, ``.to_numpy(topic)``.

    Imported lazily so that ``import simrec_node`` stays cheap.
    """
    from simrec_node.convert import open_log

    return open_log(path)


def __getattr__(name: str) -> object:
    """``simrec_node.Recorder`` loads the in-process recorder on first use (keeps the import cheap)."""
    if name == "Recorder":
        from simrec_node.integrations import Recorder

        return Recorder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
