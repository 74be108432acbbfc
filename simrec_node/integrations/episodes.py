"""The episode channel: one ``simrec.Episode`` per finished episode, per environment.

Episodes are data, not logging: ``simrec info`` counts them and sums their returns, and
converters split arrays at their boundaries, so they travel on their own channel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from simrec_node.msgs import Episode

__all__ = ["EPISODE_TOPIC", "GYMNASIUM_NAMES", "EpisodeTracker"]

EPISODE_TOPIC = "/episodes"

# simrec names each episode's statistics once, on /episodes (simrec.Episode); Gymnasium's
# RecordEpisodeStatistics names the same numbers r, l, t, which the Gymnasium wrappers also
# record under those names (<prefix>/episode_stats) for code that expects them.
GYMNASIUM_NAMES = {"r": "episode_return", "l": "length", "t": "wall_time_s"}


@dataclass
class _Open:
    start_step: int = 0
    start_time: float = 0.0
    start_wall: float = field(default_factory=time.perf_counter)


class EpisodeTracker:
    """Remembers where each environment's current episode started and numbers finished ones."""

    def __init__(self) -> None:
        self._open: dict[int, _Open] = {}
        self._finished: dict[int, int] = {}

    def known(self) -> list[int]:
        """Environments seen so far, in index order."""
        return sorted(self._open.keys() | self._finished.keys())

    def start(self, env_index: int, step: int, sim_time: float) -> None:
        """Mark the start of a new episode of ``env_index`` (a reset)."""
        self._open[env_index] = _Open(step, sim_time)

    def end(
        self,
        env_index: int,
        *,
        step: int,
        sim_time: float,
        return_: float,
        length: int | None,
        success: bool | None,
        terminated: bool,
        truncated: bool,
    ) -> Episode:
        """Close the current episode of ``env_index`` and return its record.

        ``length`` defaults to the steps since the episode started. The next episode starts
        at the next step, unless ``start`` says otherwise first.
        """
        current = self._open.get(env_index) or _Open(0, 0.0)
        index = self._finished.get(env_index, 0)
        self._finished[env_index] = index + 1
        episode = Episode(
            env_index=env_index,
            episode_index=index,
            start_step=current.start_step,
            end_step=step,
            start_time=current.start_time,
            end_time=sim_time,
            episode_return=float(return_),
            length=step - current.start_step + 1 if length is None else int(length),
            wall_time_s=round(time.perf_counter() - current.start_wall, 6),
            terminated=bool(terminated),
            truncated=bool(truncated),
        )
        if success is not None:
            episode.success = bool(success)
        self._open[env_index] = _Open(step + 1, sim_time)
        return episode
