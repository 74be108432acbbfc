"""Episode statistics for `simrec info`, from the ``/episodes`` channel (simrec.Episode)."""

from __future__ import annotations

import math  # not statistics: its import (fractions, decimal) was ~2 ms of opening a log

from simrec_node.msgs import Episode

from .model import EpisodeSummary

EPISODE_TYPE = "simrec.Episode"


def episode_summary(episodes: list[Episode]) -> EpisodeSummary | None:
    """Statistics over ``episodes`` (of one file or of every file of a split log)."""
    if not episodes:
        return None
    returns = [e.episode_return for e in episodes]
    judged = [e.success for e in episodes if e.HasField("success")]
    return EpisodeSummary(
        count=len(episodes),
        envs=len({e.env_index for e in episodes}),
        return_mean=math.fsum(returns) / len(returns),
        return_min=min(returns),
        return_max=max(returns),
        length_mean=math.fsum(e.length for e in episodes) / len(episodes),
        success_rate=sum(judged) / len(judged) if judged else None,
        terminated=sum(e.terminated for e in episodes),
        truncated=sum(e.truncated for e in episodes),
    )
