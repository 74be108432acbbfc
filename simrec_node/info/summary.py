"""`summarize()`: open an MCAP file, pick the fast (indexed) or fallback (scan) reader, and turn
what it found into a `LogSummary`. Every failure leaves here as a one-line `LogFileError`."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import BinaryIO

from simrec_node.msgs import Episode

from .episodes import EPISODE_TYPE, episode_summary, read_episodes
from .facts import (
    DECODE_ERRORS,
    MCAP_MAGIC,
    RECORDING_META,
    TOPIC_STATS_META,
    USER_META,
    ChannelFacts,
    LogFacts,
    describe_error,
)
from .indexed import NoSummary, read_indexed
from .model import LogFileError, LogSummary, TopicSummary
from .scan import ScanError, scan


def summarize(path: str | os.PathLike[str]) -> LogSummary:
    """Summarize one MCAP file; raises `LogFileError` (never a library exception) on bad input."""
    summary, episodes = summarize_file(path)
    return dataclasses.replace(summary, episodes=episode_summary(episodes))


def summarize_file(path: str | os.PathLike[str]) -> tuple[LogSummary, list[Episode]]:
    """`summarize` without the episode statistics, and the episodes themselves.

    A split log computes its statistics over the episodes of all its files together.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            _check_magic(f, name, size)
            facts = _read(f, name, size)
            episodes = _episodes(f, facts) if facts.indexed else []
    except LogFileError:
        raise
    except FileNotFoundError:
        raise LogFileError(f"no such file: {name}") from None
    except IsADirectoryError:
        raise LogFileError(_directory_message(name)) from None
    except PermissionError:
        if os.path.isdir(name):  # Windows reports directories this way
            raise LogFileError(_directory_message(name)) from None
        raise LogFileError(f"permission denied: cannot read {name}") from None
    except OSError as exc:
        raise LogFileError(f"cannot read {name}: {exc.strerror or exc}") from None
    return build_summary(name, size, facts), episodes


def _episodes(f: BinaryIO, facts: LogFacts) -> list[Episode]:
    topics = [c.topic for c in facts.channels.values() if c.type_name == EPISODE_TYPE]
    try:
        return read_episodes(f, topics)
    except Exception as exc:  # a damaged chunk must not hide the rest of the summary
        facts.warnings.append(f"episode statistics unavailable: {describe_error(exc)}")
        return []


def _directory_message(name: str) -> str:
    try:
        inside = sorted(e for e in os.listdir(name) if e.endswith(".mcap"))
    except OSError:
        inside = []
    hint = f"; did you mean {os.path.join(name, inside[0])}?" if inside else "; pass an .mcap file"
    return f"{name} is a directory, not an MCAP file{hint}"


def _check_magic(f: BinaryIO, name: str, size: int) -> None:
    if size == 0:
        raise LogFileError(f"{name} is empty (0 bytes); the recording wrote nothing")
    head = f.read(len(MCAP_MAGIC))
    if head == MCAP_MAGIC:
        return
    if MCAP_MAGIC.startswith(head):
        raise LogFileError(f"{name} is truncated: only {size} byte(s), not even a full MCAP header")
    raise LogFileError(f"{name} is not an MCAP file (bad magic bytes)")


def _read(f: BinaryIO, name: str, size: int) -> LogFacts:
    """Use the summary section when there is one; otherwise scan and say why counts may be short."""
    unfinished = False
    try:
        return read_indexed(f, size)
    except NoSummary as exc:
        why, unfinished = str(exc), exc.unfinished
    except DECODE_ERRORS as exc:
        why = f"summary section is unreadable ({describe_error(exc)})"
    try:
        facts, good_end, stop = scan(f, size)
    except ScanError as exc:
        raise LogFileError(
            f"{name} is corrupt at byte {exc.offset}: {exc.reason}; it cannot be read"
        ) from None
    if unfinished:
        why = f"file was not closed cleanly ({why})"
    if stop is None:
        where = "counts come from a full scan of the file"
    else:
        where = f"counts come from a scan up to byte {good_end} of {size} (stopped: {stop})"
    facts.warnings.append(f"{why}; {where}")
    return facts


def _merged(facts: LogFacts, record_name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, values in facts.metadata:
        if name == record_name:
            out.update(values)
    return out


def _drop_counts(topic: str, raw: str, warnings: list[str]) -> dict[str, int]:
    """Parse one `simrec.topic_stats` value; every integer ``*_dropped`` field counts as a drop."""
    try:
        stats = json.loads(raw)
    except ValueError:
        warnings.append(f"topic stats for {topic} are not valid JSON; drops unknown")
        return {}
    if not isinstance(stats, dict):
        warnings.append(f"topic stats for {topic} are not a JSON object; drops unknown")
        return {}
    return {
        k: v
        for k, v in stats.items()
        if k.endswith("_dropped") and isinstance(v, int) and not isinstance(v, bool)
    }


def frequency(count: int, first: int | None, last: int | None) -> float | None:
    """Messages per second between the first and the last message (None below two messages)."""
    if count < 2 or first is None or last is None or last <= first:
        return None
    return (count - 1) / ((last - first) / 1e9)


def _topics(facts: LogFacts, topic_stats: dict[str, str]) -> list[TopicSummary]:
    by_topic: dict[str, list[ChannelFacts]] = {}
    for ch in facts.channels.values():
        by_topic.setdefault(ch.topic, []).append(ch)
    # A topic the recorder subscribed to but never wrote still matters (e.g. everything dropped).
    for topic in topic_stats:
        by_topic.setdefault(topic, [])

    out = []
    for topic in sorted(by_topic):
        chans = by_topic[topic]
        firsts = [c.first_time_ns for c in chans if c.first_time_ns is not None]
        lasts = [c.last_time_ns for c in chans if c.last_time_ns is not None]
        count = sum(c.count for c in chans)
        first, last = (min(firsts) if firsts else None), (max(lasts) if lasts else None)
        detail = _drop_counts(topic, topic_stats[topic], facts.warnings) if topic in topic_stats else {}
        out.append(
            TopicSummary(
                topic=topic,
                type_name=" | ".join(dict.fromkeys(c.type_name for c in chans if c.type_name)),
                message_encoding=" | ".join(
                    dict.fromkeys(c.message_encoding for c in chans if c.message_encoding)
                ),
                count=count,
                frequency_hz=frequency(count, first, last),
                first_time_ns=first,
                last_time_ns=last,
                dropped=sum(detail.values()),
                dropped_detail=detail,
            )
        )
    return out


def build_summary(path: str, size: int, facts: LogFacts) -> LogSummary:
    """Turn reader facts into the public summary (also applies the recorder metadata contract)."""
    topic_stats = _merged(facts, TOPIC_STATS_META)
    topics = _topics(facts, topic_stats)
    start, end = facts.start_ns, facts.end_ns
    duration = (end - start) / 1e9 if start is not None and end is not None else 0.0
    return LogSummary(
        path=path,
        size_bytes=size,
        start_ns=start,
        end_ns=end,
        duration_s=duration,
        message_count=facts.message_count,
        compression=set(facts.compression),
        chunk_count=facts.chunk_count,
        topics=topics,
        recording=_merged(facts, RECORDING_META),
        user_meta=_merged(facts, USER_META),
        library=facts.library,
        profile=facts.profile,
        indexed=facts.indexed,
        warnings=list(facts.warnings),
    )
