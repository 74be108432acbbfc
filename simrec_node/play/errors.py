"""The one error class of ``play``: a log or an option that cannot be played as asked."""

from __future__ import annotations

from simrec_node.errors import SimrecError


class PlayError(SimrecError):
    """A user-fixable problem with playback (no matching topic, bad remap, port in use...).

    The message is one line saying what, where and what to do; the CLI prints it as is.
    """
