"""Open an MCAP log and iterate its messages, decoded or raw, in log-time order.

A log is one file, a directory of split files (``run/run_0.mcap``, ...) or several files, read
as one through the log reader (``simrec_node.logs``): only the chunks that meet the time window
are decompressed (ahead, on a thread pool), and what cannot be read (a corrupt chunk, a
truncated tail, a message that does not decode) is counted in ``problems`` rather than raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simrec_node.info import LogSpec, LogSummary, describe
from simrec_node.logs import Batch, Channel, Log, Message

from .decoders import Decoder, decoder_for
from .errors import ConvertError

__all__ = ["LogReader", "RawRecord", "TopicInfo", "open_log"]

IMAGE_TYPES = ("foxglove.CompressedImage", "foxglove.RawImage")

_UNSET = object()

TIME_AXES = ("auto", "sim", "log")


@dataclass
class TopicInfo:
    """A topic's message type and how many messages the log holds for it."""

    type_name: str
    count: int


RawRecord = Message  # one raw-message type: the log reader's (topic, type_name, times, data)


class LogReader:
    """A recorded MCAP log: its topics, and iterators over its messages.

    Open with ``open_log(path)`` (or ``simrec_node.open``): a file, a directory of split files,
    or a list of files. Raises ``LogFileError`` for a missing, empty, non-MCAP or unreadable
    file. ``problems`` lists what the last pass over the log could not read (one line each).
    ``path`` names the log (the file, or the directory); ``files`` are its files in order.
    """

    def __init__(self, log: LogSpec) -> None:
        self._log = Log(log)
        try:
            logset = describe(self._log, detail=False)  # a seek needs no more than this
        except BaseException:
            self._log.close()
            raise
        self.path = Path(logset.name)
        self.files: list[Path] = list(logset.files)
        self._brief = logset.summary
        self._summary: LogSummary | None = None
        self.topics: dict[str, TopicInfo] = {
            t.topic: TopicInfo(t.type_name, t.count) for t in self._brief.topics if t.type_name
        }
        self.start_ns: int = self._brief.start_ns or 0
        self.end_ns: int = self._brief.end_ns or 0
        self.problems: list[str] = []
        self.undecodable: dict[str, str] = {}  # topic -> why its messages cannot be decoded

    @property
    def summary(self) -> LogSummary:
        """The log's summary as ``simrec info`` gives it, sim-time spans and episode statistics
        included (read on first use: they take reads of the data section, which opening a log
        for a seek does not)."""
        if self._summary is None:
            self._summary = describe(self._log).summary
        return self._summary

    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Unmap the log's files."""
        self._log.close()

    def __repr__(self) -> str:
        return f"LogReader({str(self.path)!r}, {len(self.topics)} topics)"

    # -------------------------------------------------------------------- topics

    @property
    def image_topics(self) -> list[str]:
        return [t for t, info in self.topics.items() if info.type_name in IMAGE_TYPES]

    @property
    def numeric_topics(self) -> list[str]:
        return [t for t, info in self.topics.items() if info.type_name not in IMAGE_TYPES]

    def resolve_topics(self, topics: Iterable[str] | str | None) -> list[str]:
        """Topic names as stored (a missing leading ``/`` is added); ConvertError for unknown ones."""
        if topics is None:
            return list(self.topics)
        if isinstance(topics, str):
            topics = [topics]
        out = []
        for name in topics:
            found = name if name in self.topics else "/" + name if "/" + name in self.topics else None
            if found is None:
                raise ConvertError(f"topic {name!r} is not in {self.path}; {self.describe_topics()}")
            out.append(found)
        return list(dict.fromkeys(out))

    def describe_topics(self) -> str:
        numeric = ", ".join(self.numeric_topics) or "none"
        images = ", ".join(self.image_topics) or "none"
        return f"numeric topics: {numeric}; image topics: {images}"

    def time_window(self, start: float | None, end: float | None) -> tuple[int, int]:
        """Absolute log-time bounds in ns from seconds relative to the log's first message."""
        lo = self.start_ns + round(start * 1e9) if start is not None else 0
        hi = self.start_ns + round(end * 1e9) if end is not None else (1 << 64) - 1
        if hi < lo:
            raise ConvertError(f"--end ({end}) is before --start ({start})")
        return lo, hi

    def sim_span(self, topics: Iterable[str]) -> tuple[int, int] | None:
        """(first, last) sim time in ns of ``topics`` where they carry sim time, else None.

        The rule is ``info``'s (``simrec_node.info.sim_span``: publish times set by the publisher,
        not within a second of the log times): every topic with two messages or more must carry
        it (one message says nothing about its clock), and at least one must.
        """
        wanted = set(topics)
        found = [t for t in self.summary.topics if t.topic in wanted and t.count >= 2]
        if not found or any(t.sim_first_ns is None or t.sim_last_ns is None for t in found):
            return None
        return min(t.sim_first_ns for t in found), max(t.sim_last_ns for t in found)  # type: ignore[type-var]

    def time_axis(self, topics: Iterable[str], requested: str = "auto") -> str:
        """``"sim"`` (publish_time) or ``"log"`` (receive time) for ``topics``: ``requested``
        unless it is ``"auto"``, which picks sim time where every topic carries it."""
        if requested not in TIME_AXES:
            raise ConvertError(f"--time must be one of {', '.join(TIME_AXES)}, not {requested!r}")
        topics = list(topics)
        if requested == "sim" and self.sim_span(topics) is None:
            raise ConvertError(
                f"--time sim: {', '.join(topics)} do not all carry sim time (their publish times are "
                "the recorder's clock): use --time log"
            )
        if requested != "auto":
            return requested
        return "sim" if self.sim_span(topics) is not None else "log"

    def check_window(
        self, start: float | None, end: float | None, *, axis: str = "log", topics: Iterable[str] = ()
    ) -> None:
        """ConvertError when ``start``/``end`` (seconds from the first message on ``axis``: log
        time, or the sim time of ``topics``) leave no time of the log, so a conversion would
        write nothing. (Iterating such a window yields nothing.)"""
        self.time_window(start, end)
        span = self.sim_span(topics) if axis == "sim" else None
        first, last = span if span is not None else (self.start_ns, self.end_ns)
        length = (last - first) / 1e9
        clock = " of sim time" if span is not None else ""
        if start is not None and start > length:
            raise ConvertError(
                f"--start {start:g} is past the end of {self.path}, which is {length:.3f} s{clock} long: "
                f"give --start between 0 and {length:.3f}"
            )
        if end is not None and end < 0:
            raise ConvertError(
                f"--end {end:g} is before the log starts: give --end between 0 and {length:.3f}"
            )

    # -------------------------------------------------------------------- iteration

    def iter_raw(
        self,
        topics: Iterable[str] | str | None = None,
        start: float | None = None,
        end: float | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> Iterator[RawRecord]:
        """Undecoded messages of ``topics`` (all when None) between ``start`` and ``end`` seconds."""
        lo, hi = self.time_window(start, end)
        yield from self._stream(self.resolve_topics(topics), lo, hi, progress)

    def iter(
        self,
        topics: Iterable[str] | str | None = None,
        start: float | None = None,
        end: float | None = None,
    ) -> Iterator[tuple[str, int, Any]]:
        """``(topic, log_time_ns, message)``: StateBatch as a ``StateBatchView`` and Tensor as an
        ndarray (numpy views of the payload: copy what you keep), other types as protobuf objects.
        """
        for topic, log_time, _, message in self.iter_decoded(topics, start, end):
            yield topic, log_time, message

    def iter_decoded(
        self,
        topics: Iterable[str] | str | None = None,
        start: float | None = None,
        end: float | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
        raw: Iterable[str] = (),
    ) -> Iterator[tuple[str, int, int, Any]]:
        """Like ``iter`` with the publish time too: ``(topic, log_time, publish_time, message)``.
        Messages of the ``raw`` topics come undecoded (their payload, a view: copy what you keep),
        for a caller that decodes them in bulk."""
        lo, hi = self.time_window(start, end)
        undecoded = frozenset(raw)
        decoders: dict[Channel, Decoder | None] = {}
        failed: dict[str, int] = {}
        for m in self._stream(self.resolve_topics(topics), lo, hi, progress):
            channel, data = m.channel, m.data
            if channel.topic in undecoded:
                yield channel.topic, m.log_time, m.publish_time, data
                continue
            decode = decoders.get(channel, _UNSET)
            if decode is _UNSET:
                decode = decoders[channel] = self.decoder(channel)
            if decode is None:
                failed[channel.topic] = failed.get(channel.topic, 0) + 1
                continue
            try:
                message = decode(data)
            except Exception:  # a malformed payload is the file's problem, not a crash
                failed[channel.topic] = failed.get(channel.topic, 0) + 1
                continue
            yield channel.topic, m.log_time, m.publish_time, message
        for topic, count in failed.items():
            self.problems.append(f"{count} message(s) on {topic} could not be decoded and were skipped")

    def iter_batches(
        self,
        topics: Iterable[str] | str | None = None,
        start: float | None = None,
        end: float | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> Iterator[Batch]:
        """The undecoded messages of ``topics`` a chunk at a time as columns (``logs.Batch``:
        record order within a chunk; a stable sort by log time gives ``iter_raw``'s order), for
        readers that decode in bulk. ``channel(id)`` names a batch's channel ids."""
        lo, hi = self.time_window(start, end)
        wanted = set(self.resolve_topics(topics))
        channels = [c for c in self._log.channels.values() if c.topic in wanted]
        self.problems = []
        try:
            yield from self._log.batches(channels, lo, hi, progress=progress)
        finally:
            self.problems += self._log.skipped

    def channel(self, channel_id: int) -> Channel:
        """The log's channel with this id (a `Batch`'s ``channel`` values)."""
        return self._log.channels[channel_id]

    def decoder(self, channel: Channel) -> Decoder | None:
        """The channel's decoder; None (and a problem line) for a channel that cannot be decoded."""
        try:
            return decoder_for(
                channel.schema_name, channel.schema_encoding, channel.schema_data, channel.message_encoding
            )
        except ConvertError as exc:
            self.problems.append(f"{channel.topic}: {exc}")
            self.undecodable[channel.topic] = str(exc)
            return None

    def to_numpy(self, topic: str, *, keys: str = "full", **options: Any) -> dict[str, Any]:
        """One topic flattened into arrays, keyed by field path: the NPZ's keys without the topic,
        ``episode_index`` included (windows here are on log time). An image topic gives its
        frames decoded to pixels as ``data`` (``[T, H, W(, C)]``, see ``convert.pixels``).
        ``keys="short"`` gives the keys ``convert --keys short`` writes for this topic, topic
        included (``robot/state/position``; a ``simrec.Tensor`` topic's data is ``sim/reward``).

        ``options`` are those of ``simrec_node.convert.collect`` (start, end, allow_object).
        """
        from .collect import collect
        from .episodes import add_episode_index
        from .keys import check_unique, key_names

        (name,) = self.resolve_topics([topic])
        key_names(name, "", [], keys)  # refuses an unknown style before reading the log
        table = collect(self, [name], **options).tables[name]
        arrays = table.arrays()
        add_episode_index(arrays, table.type_name)  # as the NPZ does: the same keys
        if keys != "full":
            names = key_names(name, table.type_name, arrays, keys)
            check_unique({f"{name}/{k}": short for k, short in names.items()})
            arrays = {names[k]: v for k, v in arrays.items()}
        return arrays

    # -------------------------------------------------------------------- the stream

    def _stream(
        self, topics: list[str], lo: int, hi: int, progress: Callable[[int, int], None] | None
    ) -> Iterator[Any]:
        wanted = set(topics)
        channels = [c for c in self._log.channels.values() if c.topic in wanted]
        self.problems = []
        try:
            yield from self._log.messages(channels, lo, hi, progress=progress)
        finally:
            self.problems += self._log.skipped


def open_log(log: LogSpec) -> LogReader:
    """Open a recorded MCAP log for reading: a file, a directory of split files, or a list of
    files read as one log. Raises ``LogFileError`` with a one-line reason."""
    return LogReader(log)
