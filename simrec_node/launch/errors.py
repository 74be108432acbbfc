"""The one error class of the launch part: a mistake in a launch file or its arguments."""

from __future__ import annotations

from simrec_node.errors import SimrecError


class LaunchError(SimrecError):
    """A launch file problem the user can fix; the message says where (``file:line``) and what."""


def at(where: str | None, message: str) -> LaunchError:
    """A ``LaunchError`` prefixed with its location when there is one."""
    return LaunchError(f"{where}: {message}" if where else message)
