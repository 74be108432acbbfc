"""Episode statistics for `simrec info`, read from the ``/episodes`` channel (simrec.Episode)."""

from __future__ import annotations

import statistics
from typing import BinaryIO

from mcap.reader import make_reader

from simrec_node.msgs import Episode

from .model import EpisodeSummary

EPISODE_TYPE = "simrec.Episode"


def read_episodes(f: BinaryIO, topics: list[str]) -> list[Episode]:
    """The episodes on ``topics`` (channels of simrec.Episode), read through the chunk index.

    Episodes are a few messages per thousands of steps, so this stays cheap on big logs.
    """
    if not topics:
        return []
    f.seek(0)
    return [
        Episode.FromString(message.data)
        for _, _, message in make_reader(f).iter_messages(topics=topics, log_time_order=False)
    ]


def episode_summary(episodes: list[Episode]) -> EpisodeSummary | None:
    """Statistics over ``episodes`` (of one file or of every file of a split log)."""
    if not episodes:
        return None
    returns = [e.episode_return for e in episodes]
    judged = [e.success for e in episodes if e.HasField("success")]
    return EpisodeSummary(
        count=len(episodes),
        envs=len({e.env_index for e in episodes}),
        return_mean=statistics.fmean(returns),
        return_min=min(returns),
        return_max=max(returns),
        length_mean=statistics.fmean(e.length for e in episodes),
        success_rate=sum(judged) / len(judged) if judged else None,
        terminated=sum(e.terminated for e in episodes),
        truncated=sum(e.truncated for e in episodes),
    )
