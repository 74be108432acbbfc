"""The summary of one log (a file, a directory of split files, or several files), and of each
of its files. The log reader (``simrec_node.logs``) decides which files a log is and their order;
each file is summarized from its summary section, or scanned when it has none.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from simrec_node.logs import Log, LogFileError, LogSpec, same_recording

from .episodes import episode_summary
from .model import FileEntry, LogSummary, TopicSummary
from .summary import frequency, read_episodes, sim_span, summarize_file


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


def describe(log: Log, *, detail: bool = True) -> LogSet:
    """Summarize an opened log: each file as `summarize_file` does, and all of them as one.

    ``detail=False`` gives only what the summary sections of indexed files say (topics, types,
    counts, the time range), leaving out what takes reads of their data sections: per-topic
    first and last times and sim-time spans (message indexes and heads), recorder metadata, and
    episode statistics (the ``/episodes`` chunks). That is what a reader needs to open a log for
    a seek."""
    summaries = [summarize_file(file, detail=detail) for file in log.files]
    episodes = episode_summary(read_episodes(log)) if detail else None
    files = [file.path for file in log.files]
    if not log.is_set:
        summary = replace(summaries[0], episodes=episodes)
        return LogSet(log.name, files, [summary], summary, is_set=False)
    merged = merge_summaries(log.name, summaries)
    if detail and os.path.isdir(log.name) and not same_recording(log.files):
        merged.warnings.insert(
            0,
            f"{len(files)} separate recordings, not one recording's split files: summed here as one "
            "log (convert --format lerobot and --ray take each on its own)",
        )
    return LogSet(log.name, files, summaries, replace(merged, episodes=episodes), is_set=True)


def open_log_set(spec: LogSpec) -> LogSet:
    """Resolve ``spec`` (a file, a directory, or several files) and summarize it as one log.

    Raises `LogFileError` (one line) for a missing path, a directory without ``.mcap`` files, a
    directory mixed with files, a file given twice, or a file that is not a readable MCAP.
    """
    with Log(spec) as log:
        return describe(log)


def log_files(spec: LogSpec) -> list[Path]:
    """The files of ``spec`` in playing order (see `open_log_set`)."""
    return open_log_set(spec).files


def summarize_log(spec: LogSpec) -> LogSummary:
    """One summary of a file, a directory of split files, or several files (see `open_log_set`)."""
    return open_log_set(spec).summary


def summarize(path: str | os.PathLike[str]) -> LogSummary:
    """Summarize one MCAP file; raises `LogFileError` on bad input, never a library exception."""
    name = os.fspath(path)
    if os.path.isdir(name):
        inside = sorted(p.name for p in Path(name).glob("*.mcap"))
        hint = f"; did you mean {os.path.join(name, inside[0])}?" if inside else "; pass an .mcap file"
        raise LogFileError(f"{name} is a directory, not an MCAP file{hint}")
    return summarize_log(name)


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
        clips=[clip for s in summaries for clip in s.clips],
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
