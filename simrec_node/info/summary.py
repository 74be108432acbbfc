"""`summarize()`: open an MCAP file, pick the fast (indexed) or fallback (scan) reader, and turn
what it found into a `LogSummary`. Every failure leaves here as a one-line `LogFileError`."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import BinaryIO

from mcap.data_stream import ReadDataStream
from mcap.reader import SeekingReader
from mcap.records import Chunk, Message
from mcap.stream_reader import breakup_chunk

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
            if facts.indexed:
                _read_publish_times(f, size, facts)
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


def _read_publish_times(f: BinaryIO, size: int, facts: LogFacts) -> None:
    """Fill each channel's first and last publish_time from the chunks that hold its first and
    last message (at most two chunks a channel, each decompressed once)."""
    try:
        f.seek(0)
        summary = SeekingReader(f, record_size_limit=size).get_summary()
        if summary is None:
            return
        times: dict[int, dict[tuple[int, int], int]] = {}  # chunk -> (channel, log_time) -> publish

        def publish_time(cid: int, log_time: int) -> int | None:
            for index in summary.chunk_indexes:
                if cid not in index.message_index_offsets:
                    continue
                if not index.message_start_time <= log_time <= index.message_end_time:
                    continue
                if index.chunk_start_offset not in times:
                    f.seek(index.chunk_start_offset + 1 + 8)
                    chunk = Chunk.read(ReadDataStream(f))
                    times[index.chunk_start_offset] = {
                        (m.channel_id, m.log_time): m.publish_time
                        for m in breakup_chunk(chunk, validate_crc=False)
                        if isinstance(m, Message)
                    }
                found = times[index.chunk_start_offset].get((cid, log_time))
                if found is not None:
                    return found
            return None

        for cid, ch in facts.channels.items():
            if ch.count >= 2 and ch.first_time_ns is not None and ch.last_time_ns is not None:
                ch.first_publish_ns = publish_time(cid, ch.first_time_ns)
                ch.last_publish_ns = publish_time(cid, ch.last_time_ns)
    except DECODE_ERRORS as exc:  # the counts stand; only the sim-time rates are missing
        facts.warnings.append(f"sim-time rates unavailable: {describe_error(exc)}")


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


SIM_CLOCK_GAP_NS = 1_000_000_000  # publish times this far from log times are not the wall clock


def sim_span(
    spans: list[tuple[int | None, int | None, int | None, int | None]],
) -> tuple[int | None, int | None]:
    """(first, last) sim time of a topic from its channels' (first log, last log, first publish,
    last publish) times; (None, None) where the publish times are the recorder's wall clock.

    Sim time: publish times set by the publisher that are not within a second of the log times
    at either end (a sim clock from 0, a replayed log's original stamps).
    """
    firsts, lasts = [], []
    for first_log, last_log, first_pub, last_pub in spans:
        if None in (first_log, last_log, first_pub, last_pub):
            continue
        if abs(first_pub - first_log) <= SIM_CLOCK_GAP_NS or abs(last_pub - last_log) <= SIM_CLOCK_GAP_NS:
            return None, None
        firsts.append(first_pub)
        lasts.append(last_pub)
    if not firsts:
        return None, None
    return min(firsts), max(lasts)


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
        sim_first, sim_last = sim_span(
            [(c.first_time_ns, c.last_time_ns, c.first_publish_ns, c.last_publish_ns) for c in chans]
        )
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
                sim_first_ns=sim_first,
                sim_last_ns=sim_last,
                sim_frequency_hz=frequency(count, sim_first, sim_last),
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
