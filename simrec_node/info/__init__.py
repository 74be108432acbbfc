"""`simrec info`: summarize an MCAP recording (counts, rates, drops, recorder metadata).

A split recording (a directory of ``<name>_<N>.mcap`` files, or several files) is one log:
`open_log_set` orders its files and summarizes them as one; `play` and `convert` open logs the same way.

Reads logs through the one log reader (``simrec_node.logs``): only the summary section of
cleanly closed files, a scan for files a crashed recorder left behind. All bad-input failures
surface as a one-line `LogFileError`.
"""

from .logset import LogSet, LogSpec, describe, log_files, open_log_set, summarize, summarize_log
from .model import EpisodeSummary, FileEntry, LogFileError, LogSummary, TopicSummary
from .render import render_summary, summary_as_dict

__all__ = [
    "EpisodeSummary",
    "FileEntry",
    "LogFileError",
    "LogSet",
    "LogSpec",
    "LogSummary",
    "TopicSummary",
    "describe",
    "log_files",
    "open_log_set",
    "render_summary",
    "summarize",
    "summarize_log",
    "summary_as_dict",
]
