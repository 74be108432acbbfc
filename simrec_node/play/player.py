"""The scheduler: takes messages from the read-ahead and hands each to the sinks at its log time.

One player, one clock, one reader, any number of sinks (the graph, a Foxglove server). Seeks,
steps and loops happen here, on the player's thread, whoever asked for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .clock import PlaybackClock
from .readahead import END, ReadAhead
from .source import Item, LogSource


class Sink(Protocol):
    """Where played messages go."""

    wants_latest_on_seek: bool

    def deliver(self, item: Item) -> None: ...

    def seeked(self, time_ns: int, latest: list[Item], *, announce: bool) -> None:
        """Playback jumped to ``time_ns``; ``latest`` holds each topic's message at or before it.

        ``announce`` is True when nobody asked (a loop), so a viewer must be told.
        """

    def ended(self) -> None: ...


@dataclass
class PlayRange:
    """The part of the log to play: ``start_ns`` to ``end_ns`` inclusive."""

    start_ns: int
    end_ns: int
    loop: bool = False
    stay_open: bool = False  # keep running at the end (a server waits for seeks)
    # Without stay_open, a player paused at the end (seeked or stepped there) still waits for the
    # next command; only playing through the end (or clock.stop()) ends it.


class Player:
    def __init__(
        self, source: LogSource, clock: PlaybackClock, sinks: list[Sink], play_range: PlayRange
    ) -> None:
        self.source = source
        self.clock = clock
        self.sinks = sinks
        self.range = play_range
        self.delivered = 0
        self.loops = 0
        self._readahead = ReadAhead(source)

    def run(self) -> None:
        """Play until the end (or forever with loop / stay_open) or until ``clock.stop()``."""
        clock, rng = self.clock, self.range
        self._readahead.restart(rng.start_ns, rng.end_ns)
        clock.begin(rng.start_ns)
        item: Item | None = None
        ended = False
        try:
            while not clock.stopped:
                seek = clock.take_seek()
                if seek is not None:
                    self._seek(min(max(seek, rng.start_ns), rng.end_ns), announce=False)
                    item, ended = None, False
                    continue
                if ended:
                    if not clock.state().paused:  # resumed at the end: done, or start over
                        if not rng.stay_open:
                            return
                        clock.seek(rng.start_ns)
                    clock.wait_for_change(0.5)
                    continue
                if item is None:
                    got = self._readahead.next(0.05)
                    if got is None:
                        continue
                    if got is END:
                        if rng.loop:
                            self.loops += 1
                            self._readahead.restart(rng.start_ns, rng.end_ns)
                            clock.start_at(rng.start_ns)
                            self._notify_seek(rng.start_ns, [], announce=True)
                            continue
                        ended = True
                        # Played to the end, it is done; paused there (a seek or a step to the
                        # end), it waits for the next command, as a server always does.
                        played_through = not clock.state().paused
                        clock.finish(rng.end_ns)
                        for sink in self.sinks:
                            sink.ended()
                        if played_through and not rng.stay_open:
                            return
                        continue
                    item = got
                if clock.take_step():
                    clock.start_at(item.log_time)
                    self._deliver(item)
                    item = None
                elif clock.wait_until(item.log_time):
                    self._deliver(item)
                    item = None
        finally:
            self._readahead.close()

    def _seek(self, time_ns: int, *, announce: bool) -> None:
        latest = self.source.latest_at(time_ns) if any(s.wants_latest_on_seek for s in self.sinks) else []
        self._readahead.restart(time_ns + 1, self.range.end_ns)
        self.clock.start_at(time_ns)
        self._notify_seek(time_ns, latest, announce=announce)

    def _notify_seek(self, time_ns: int, latest: list[Item], *, announce: bool) -> None:
        for sink in self.sinks:
            sink.seeked(time_ns, latest, announce=announce)

    def _deliver(self, item: Item) -> None:
        for sink in self.sinks:
            sink.deliver(item)
        self.delivered += 1
