"""`summarize()`: facts from a file's summary section (fast) or from a scan of its data section
(a file without a usable summary), turned into a `LogSummary`. Files are opened by the log
reader, so every failure leaves as its one-line `LogFileError`."""

from __future__ import annotations

import json
import os

from simrec_node.logs import Log, LogFile
from simrec_node.mcap import metadata as names
from simrec_node.msgs import Episode

from .episodes import EPISODE_TYPE
from .facts import ChannelFacts, LogFacts
from .indexed import read_indexed
from .model import LogSummary, TopicSummary
from .scan import scan


def summarize_file(file: LogFile, *, detail: bool = True) -> LogSummary:
    """The summary of one file of a log, without episode statistics (a split log computes
    those over the episodes of all its files together); ``detail=False`` gives of an indexed
    file what its summary section alone says (see `read_indexed`)."""
    if file.indexed:
        facts = read_indexed(file, detail=detail)
    else:
        facts, skipped = scan(file)
        layout = file.layout()
        ends = [damage for damage in layout.breaks if damage.resumed_at is None]
        if layout.closed and not ends:
            where = "counts come from a full scan of the file"
        else:
            stop = ends[0].reason if ends else "the file ends without a DataEnd record"
            where = f"counts come from a scan up to byte {layout.good_end} of {file.size} (stopped: {stop})"
        facts.warnings.append(f"{file.summary_problem}; {where}")
        facts.warnings += skipped
    return build_summary(os.fspath(file.path), file.size, facts)


def read_episodes(log: Log) -> list[Episode]:
    """The episodes on the log's simrec.Episode channels (a few messages per thousands of steps:
    only the chunks that hold them are read where the files are indexed)."""
    channels = [c for c in log.channels.values() if c.schema_name == EPISODE_TYPE]
    if not channels:
        return []
    out = []
    for message in log.messages(channels):
        try:
            out.append(Episode.FromString(message.data))
        except Exception:  # a malformed payload costs that episode, not the summary
            continue
    return out


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
    topic_stats = _merged(facts, names.TOPIC_STATS)
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
        recording=_merged(facts, names.RECORDING),
        user_meta=_merged(facts, names.USER),
        clips=[values for name, values in facts.metadata if name == names.CLIP],
        library=facts.library,
        profile=facts.profile,
        indexed=facts.indexed,
        warnings=list(facts.warnings),
    )
