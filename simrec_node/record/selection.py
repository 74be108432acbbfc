"""Which topics a recording takes: names, everything, or regular expressions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TopicSelection:
    """``ros2 bag record`` semantics: explicit topics, ``--all``, ``--regex``, ``--exclude-regex``.

    Explicit topics are recorded whatever the regexes say; otherwise a topic is taken when
    ``all`` or ``regex`` matches it (``re.search``) and ``exclude`` does not.
    """

    topics: tuple[str, ...] = ()
    all: bool = False
    regex: str | None = None
    exclude: str | None = None
    _regex: re.Pattern | None = field(default=None, init=False, repr=False, compare=False)
    _exclude: re.Pattern | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (self.topics or self.all or self.regex):
            raise ValueError("nothing to record: name topics, or use --all or --regex")
        if self.topics and self.all:
            named = " ".join(self.topics)
            raise ValueError(
                f"--all takes every topic, so the named ones ({named}) would mean nothing: "
                f"drop --all to take only {named}, or drop the names"
            )
        object.__setattr__(self, "_regex", _compile(self.regex, "--regex"))
        object.__setattr__(self, "_exclude", _compile(self.exclude, "--exclude-regex"))

    @property
    def needs_wildcard(self) -> bool:
        """True when topics must be discovered (not only subscribed to by name)."""
        return self.all or self.regex is not None

    def accepts(self, topic: str) -> bool:
        if topic in self.topics:
            return True
        if not self.needs_wildcard:
            return False
        if self._exclude is not None and self._exclude.search(topic):
            return False
        return self.all or bool(self._regex.search(topic))


def _compile(pattern: str | None, option: str) -> re.Pattern | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{option} {pattern!r} is not a valid regular expression: {exc}") from None
