"""One log from one file, a directory of split files (``run/run_0.mcap``, ``run/run_1.mcap``, ...)
or several files named on the command line: the files in playing order and one summary of all.

`simrec info`, `play` and `convert` all open logs through `open_log_set`, so a split recording is
one log everywhere. Each file is summarized as `summarize` does (summary section, scan only for
files without one), so opening a set costs what opening its files one by one costs.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .episodes import episode_summary
from .model import FileEntry, LogFileError, LogSummary, TopicSummary
from .summary import frequency, sim_span, summarize_file

LogSpec = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]

# ``<name>_<N>.mcap``: the names a split recording gets (index without padding, like rosbag2).
_SPLIT_NAME = re.compile(r"^(?P<prefix>.+)_(?P<index>\d+)\.mcap$", re.IGNORECASE)
_NAMES_SHOWN = 3


@dataclass(frozen=True)
class LogSet:
    """An opened log: ``files`` in playing order, each one's summary, and the summary of all.

    ``is_set`` is False for a single file named on its own; then ``summary`` is exactly what
    `summarize` gives for it.
    """

    name: str
    files: list[Path]
    summaries: list[LogSummary]
    summary: LogSummary
    is_set: bool


def open_log_set(spec: LogSpec) -> LogSet:
    """Resolve ``spec`` (a file, a directory, or several files) and summarize it as one log.

    Raises `LogFileError` (one line) for a missing path, a directory without ``.mcap`` files, a
    directory mixed with files, a file given twice, or a file that is not a readable MCAP.
    """
    names = _as_list(spec)
    if len(names) == 1 and not os.path.isdir(names[0]):
        summary, episodes = summarize_file(names[0])
        summary = replace(summary, episodes=episode_summary(episodes))
        return LogSet(names[0], [Path(names[0])], [summary], summary, is_set=False)
    name, files = _files(names)
    opened = [summarize_file(path) for path in files]
    order = _order(files, [summary for summary, _ in opened])
    files = [files[i] for i in order]
    summaries = [opened[i][0] for i in order]
    episodes = [episode for i in order for episode in opened[i][1]]
    merged = merge_summaries(name, summaries)
    return LogSet(name, files, summaries, replace(merged, episodes=episode_summary(episodes)), is_set=True)


def log_files(spec: LogSpec) -> list[Path]:
    """The files of ``spec`` in playing order (see `open_log_set`)."""
    return open_log_set(spec).files


def summarize_log(spec: LogSpec) -> LogSummary:
    """One summary of a file, a directory of split files, or several files (see `open_log_set`)."""
    return open_log_set(spec).summary


# ---------------------------------------------------------------------------- resolving


def _as_list(spec: LogSpec) -> list[str]:
    if isinstance(spec, str | os.PathLike):
        return [os.fspath(spec)]
    names = [os.fspath(item) for item in spec]
    if not names:
        raise LogFileError("no log given: pass an .mcap file, a directory of split files, or several files")
    return names


def _files(names: list[str]) -> tuple[str, list[Path]]:
    """Validate the arguments; the display name and the files (directory entries sorted by name)."""
    for name in names:
        if not os.path.exists(name):
            raise LogFileError(f"no such file: {name}")
    directories = [name for name in names if os.path.isdir(name)]
    if directories and len(names) > 1:
        raise LogFileError(
            f"{directories[0]} is a directory: pass one directory of split files, or .mcap files, not both"
        )
    if directories:
        directory = directories[0]
        files = sorted(
            (entry for entry in Path(directory).iterdir() if _is_mcap(entry)), key=lambda p: p.name
        )
        if not files:
            raise LogFileError(
                f"{directory} is a directory with no .mcap files in it; pass a recording's directory "
                "or its .mcap files"
            )
        return directory, files
    seen: dict[tuple[int, int], str] = {}
    for name in names:
        st = os.stat(name)
        first = seen.get((st.st_dev, st.st_ino))
        if first is not None:
            again = f" (as {first} and {name})" if first != name else ""
            raise LogFileError(f"{name} is given twice{again}; pass each file once")
        seen[(st.st_dev, st.st_ino)] = name
    shown = names if len(names) <= _NAMES_SHOWN else [names[0], "...", names[-1]]
    return ", ".join(shown) + (f" ({len(names)} files)" if len(names) > _NAMES_SHOWN else ""), [
        Path(name) for name in names
    ]


def _is_mcap(entry: Path) -> bool:
    return entry.suffix.lower() == ".mcap" and not entry.name.startswith(".") and entry.is_file()


def _order(files: list[Path], summaries: list[LogSummary]) -> list[int]:
    """Indexes of ``files`` in playing order: by the ``_<N>`` suffix when all share one ``<name>_``
    prefix, else by first message time (files without messages last)."""
    matches = [_SPLIT_NAME.match(path.name) for path in files]
    if all(matches):
        prefixes = {m["prefix"] for m in matches}
        numbers = [int(m["index"]) for m in matches]
        if len(prefixes) == 1 and len(set(numbers)) == len(numbers):
            return sorted(range(len(files)), key=numbers.__getitem__)
    return sorted(
        range(len(files)),
        key=lambda i: (summaries[i].start_ns is None, summaries[i].start_ns or 0, i),
    )


# ---------------------------------------------------------------------------- merging


def merge_summaries(name: str, summaries: list[LogSummary]) -> LogSummary:
    """One summary of ``summaries`` (files in playing order): counts and drops summed, time range
    and per-topic rates over all. Recorder metadata comes from the first file that has it."""
    starts = [s.start_ns for s in summaries if s.start_ns is not None]
    ends = [s.end_ns for s in summaries if s.end_ns is not None]
    start, end = (min(starts), max(ends)) if starts else (None, None)
    warnings = [f"{Path(s.path).name}: {w}" for s in summaries for w in s.warnings]
    warnings += _overlaps(summaries)
    return LogSummary(
        path=name,
        size_bytes=sum(s.size_bytes for s in summaries),
        start_ns=start,
        end_ns=end,
        duration_s=(end - start) / 1e9 if start is not None and end is not None else 0.0,
        message_count=sum(s.message_count for s in summaries),
        compression=set().union(*(s.compression for s in summaries)),
        chunk_count=sum(s.chunk_count for s in summaries),
        topics=_merge_topics(summaries),
        recording=_first_wins([s.recording for s in summaries]),
        user_meta=_first_wins([s.user_meta for s in summaries]),
        library=next((s.library for s in summaries if s.library), ""),
        profile=next((s.profile for s in summaries if s.profile), ""),
        indexed=all(s.indexed for s in summaries),
        warnings=warnings,
        files=[
            FileEntry(s.path, s.size_bytes, s.message_count, s.start_ns, s.end_ns, s.indexed)
            for s in summaries
        ],
    )


def _first_wins(dicts: list[dict[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for values in reversed(dicts):
        out.update(values)
    return out


def _overlaps(summaries: list[LogSummary]) -> list[str]:
    """Files whose time ranges overlap are played merged by time, but it is worth saying."""
    timed = [s for s in summaries if s.start_ns is not None and s.end_ns is not None]
    return [
        f"{Path(a.path).name} and {Path(b.path).name} overlap in time; are they one recording?"
        for a, b in itertools.pairwise(timed)
        if b.start_ns < a.end_ns  # type: ignore[operator]
    ]


def _merge_topics(summaries: list[LogSummary]) -> list[TopicSummary]:
    by_topic: dict[str, list[TopicSummary]] = {}
    for summary in summaries:
        for topic in summary.topics:
            by_topic.setdefault(topic.topic, []).append(topic)
    return [_merge_topic(name, parts) for name, parts in sorted(by_topic.items())]


def _merge_topic(name: str, parts: list[TopicSummary]) -> TopicSummary:
    firsts = [t.first_time_ns for t in parts if t.first_time_ns is not None]
    lasts = [t.last_time_ns for t in parts if t.last_time_ns is not None]
    first, last = (min(firsts) if firsts else None), (max(lasts) if lasts else None)
    count = sum(t.count for t in parts)
    sim_first, sim_last = sim_span(
        [(t.first_time_ns, t.last_time_ns, t.sim_first_ns, t.sim_last_ns) for t in parts]
    )
    detail: dict[str, int] = {}
    for t in parts:
        for key, value in t.dropped_detail.items():
            detail[key] = detail.get(key, 0) + value
    return TopicSummary(
        topic=name,
        type_name=_join(t.type_name for t in parts),
        message_encoding=_join(t.message_encoding for t in parts),
        count=count,
        frequency_hz=frequency(count, first, last),
        first_time_ns=first,
        last_time_ns=last,
        dropped=sum(t.dropped for t in parts),
        dropped_detail=detail,
        sim_first_ns=sim_first,
        sim_last_ns=sim_last,
        sim_frequency_hz=frequency(count, sim_first, sim_last),
    )


def _join(values: Iterable[str]) -> str:
    """Join ``" | "``-joined type lists of several files without repeating a type."""
    return " | ".join(dict.fromkeys(part for value in values for part in value.split(" | ") if part))
