"""Per-publisher sequence tracking: how a subscriber knows what the transport dropped."""

from __future__ import annotations


class GapCounter:
    """Counts messages missing between consecutive sequence numbers of each publisher.

    Messages a publisher sent before this subscriber first heard from it are not gaps
    (nobody was listening yet); they are reported as ``skipped_before_first``.
    """

    __slots__ = ("_last", "missed", "skipped_before_first")

    def __init__(self) -> None:
        self._last: dict[int, int] = {}
        self.missed = 0
        self.skipped_before_first = 0

    def observe(self, publisher_id: int, sequence: int) -> int:
        """Record one arrival; return how many messages went missing just before it."""
        last = self._last.get(publisher_id)
        self._last[publisher_id] = sequence if last is None or sequence > last else last
        if last is None:
            self.skipped_before_first += sequence
            return 0
        gap = sequence - last - 1
        if gap > 0:
            self.missed += gap
            return gap
        return 0
