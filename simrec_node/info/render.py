"""Text and JSON views of a `LogSummary` for `simrec info` (layout follows `ros2 bag info`)."""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime
from typing import Any

from .model import EpisodeSummary, FileEntry, LogSummary, TopicSummary

_LABEL = 19  # width of the "Topic information: " column, as in ros2 bag info


def human_size(n: int) -> str:
    """Bytes as B/KiB/MiB/GiB with one decimal, like `ros2 bag info`."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_time(ns: int | None) -> str:
    """Local ISO time with milliseconds, plus the exact ns so it can be pasted into other tools."""
    if ns is None:
        return "-"
    try:
        iso = datetime.fromtimestamp(ns / 1e9).astimezone().isoformat(timespec="milliseconds")
    except (OverflowError, OSError, ValueError):
        return f"({ns})"
    return f"{iso} ({ns})"


def _clean(text: str) -> str:
    """Escape control characters so metadata cannot garble the terminal or the table."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _frequency(t: TopicSummary) -> str:
    if t.sim_frequency_hz is not None:
        return f"{t.sim_frequency_hz:.2f} Hz sim"
    return f"{t.frequency_hz:.2f} Hz" if t.frequency_hz is not None else "-"


_SIM_NOTE = (
    "Frequency:         'sim': over the messages' sim time (their publish time); "
    "otherwise over log time (when recorded)"
)


def _topic_lines(topics: list[TopicSummary]) -> list[str]:
    if not topics:
        return [f"{'Topic information:':<{_LABEL}}(none)"]
    cols = [
        (
            f"Topic: {_clean(t.topic)}",
            f"Type: {_clean(t.type_name) or '?'}",
            f"Count: {t.count}",
            f"Frequency: {_frequency(t)}",
            f"Dropped: {t.dropped}",
            f"Serialization Format: {_clean(t.message_encoding) or '?'}",
        )
        for t in topics
    ]
    widths = [max(len(row[i]) for row in cols) for i in range(len(cols[0]) - 1)]
    lines = []
    for n, row in enumerate(cols):
        label = "Topic information:" if n == 0 else ""
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)] + [row[-1]]
        lines.append(f"{label:<{_LABEL}}" + " | ".join(cells))
    if any(t.sim_frequency_hz is not None for t in topics):
        lines.append(_SIM_NOTE)
    return lines


def _meta_lines(title: str, meta: dict[str, str]) -> list[str]:
    if not meta:
        return []
    lines = [f"{title}:"]
    for key in sorted(meta):
        value = _clean(meta[key])
        if key.endswith("_time_ns") and meta[key].isdigit():
            value = format_time(int(meta[key]))
        lines.append(f"  {_clean(key)}: {value}")
    return lines


def _episode_lines(episodes: EpisodeSummary | None) -> list[str]:
    if episodes is None:
        return []
    e = episodes
    outcome = f"{e.terminated} terminated, {e.truncated} truncated"
    if e.success_rate is not None:
        outcome += f", success {100 * e.success_rate:.1f}%"
    return [
        f"{'Episodes:':<{_LABEL}}{e.count} over {e.envs} env{'s' if e.envs != 1 else ''}; "
        f"return mean {e.return_mean:.4g} (min {e.return_min:.4g}, max {e.return_max:.4g}); "
        f"length mean {e.length_mean:.4g}; {outcome}"
    ]


def _file_lines(files: list[FileEntry]) -> list[str]:
    """One line per file of a split log: name, size, messages, first and last message time."""
    if not files:
        return []
    names = [_clean(os.path.basename(f.path)) for f in files]
    sizes = [human_size(f.size_bytes) for f in files]
    counts = [f"{f.message_count} msgs" for f in files]
    widths = [max(map(len, column)) for column in (names, sizes, counts)]
    lines = []
    for n, (f, name, size, count) in enumerate(zip(files, names, sizes, counts, strict=True)):
        label = "Files:" if n == 0 else ""
        unindexed = "" if f.indexed else "  (not indexed: counts from a scan)"
        lines.append(
            f"{label:<{_LABEL}}{name:<{widths[0]}} | {size:>{widths[1]}} | {count:>{widths[2]}} | "
            f"{format_time(f.start_ns)} - {format_time(f.end_ns)}{unindexed}"
        )
    return lines


def render_summary(summary: LogSummary) -> str:
    """Plain-text report; no colour or terminal tricks so it can be piped and diffed.

    A split log names its directory (or files) on "Log:" and lists each file under "Files:".
    """
    rows = [
        ("Log:", summary.path) if summary.files else ("Files:", summary.path),
        ("Bag size:", human_size(summary.size_bytes)),
        ("Storage id:", "mcap"),
        ("Duration:", f"{summary.duration_s:.3f}s"),
        ("Start:", format_time(summary.start_ns)),
        ("End:", format_time(summary.end_ns)),
        ("Messages:", str(summary.message_count)),
        ("Chunks:", str(summary.chunk_count)),
        ("Compression:", ", ".join(sorted(summary.compression)) or "none"),
        ("Indexed:", "yes" if summary.indexed else "no (counts from a scan)"),
    ]
    if summary.library:
        rows.append(("Library:", _clean(summary.library)))
    if summary.profile:
        rows.append(("Profile:", _clean(summary.profile)))
    lines = [f"{label:<{_LABEL}}{value}" for label, value in rows]
    lines += _file_lines(summary.files)
    lines += _topic_lines(summary.topics)
    lines += _episode_lines(summary.episodes)
    lines += _meta_lines("Recording", summary.recording)
    lines += _meta_lines("Metadata", summary.user_meta)
    if summary.warnings:
        lines.append("Warnings:")
        lines += [f"  {_clean(w)}" for w in summary.warnings]
    return "\n".join(lines) + "\n"


def summary_as_dict(summary: LogSummary) -> dict[str, Any]:
    """JSON-ready dict for `simrec info --json` (sets become sorted lists; field names as in the API)."""
    data = dataclasses.asdict(summary)
    data["compression"] = sorted(summary.compression)
    if not summary.files:  # a single file keeps the layout it always had
        del data["files"]
    return data
