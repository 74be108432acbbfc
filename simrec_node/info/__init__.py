"""`simrec info`: summarize an MCAP recording (counts, rates, drops, recorder metadata).

Reads only the summary section of cleanly closed files; falls back to a scan for files a crashed
recorder left behind. All bad-input failures surface as a one-line `LogFileError`.
"""

from .model import EpisodeSummary, LogFileError, LogSummary, TopicSummary
from .render import render_summary, summary_as_dict
from .summary import summarize

__all__ = [
    "EpisodeSummary",
    "LogFileError",
    "LogSummary",
    "TopicSummary",
    "render_summary",
    "summarize",
    "summary_as_dict",
]
