"""The files of one recording, opened one after another by the writer thread.

A plain recording is one file. A split or snapshot recording is a directory of numbered files;
each is a complete MCAP log with its own schemas, channels and metadata, and its
``simrec.topic_stats`` count what happened while it was the open file.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from simrec_node.graph import TypeInfo
from simrec_node.mcap import metadata as names
from simrec_node.mcap.writer import McapWriter

from .output import OutputLayout, open_writer
from .stats import RecordingStats

log = logging.getLogger("simrec.record")


class LogFiles:
    """Opens, feeds and closes the files of a recording. Owned by the writer thread; ``path``
    and ``paths`` may be read from other threads."""

    def __init__(
        self,
        layout: OutputLayout,
        *,
        writer_options: dict[str, object],
        metadata: dict[str, dict[str, str]],
        lookup_type: Callable[[str], TypeInfo | None],
        stats: RecordingStats,
    ) -> None:
        self.layout = layout
        self._writer_options = writer_options
        self._metadata = metadata
        self._lookup_type = lookup_type
        self._stats = stats
        self._types: dict[str, TypeInfo | None] = {}  # asked of the graph once per recording
        self._channels: dict[tuple[str, str], int] = {}
        self._channel_topics: dict[int, str] = {}
        # Counters when the last file closed: a file's stats are what happened since then (for a
        # snapshot, the whole time its messages were gathered).
        self._counters_at_open: dict[str, dict[str, int]] = {}
        self._next_index = 0
        self.writer: McapWriter | None = None
        self.path: Path | None = None
        self.paths: list[Path] = []
        self.generation = 0  # bumped per file opened, so the write loop knows to drop its caches
        self.sync_lock = threading.Lock()  # held while a writer is closed, or its descriptor taken

    def open_next(self) -> McapWriter:
        """Open the next file (the only one, for a plain recording) and write its metadata."""
        if self.layout.split and not self.paths:
            self.layout.path.mkdir(exist_ok=True)  # the CLI checked it; an API caller may not have
        path = self.layout.file(self._next_index)
        writer = open_writer(path, **self._writer_options)
        for name, values in self._metadata.items():
            writer.add_metadata(name, values)
        if self.layout.split:
            writer.add_metadata(names.SPLIT, {"index": str(self._next_index), "name": self.layout.name})
        self._next_index += 1
        self._channels.clear()
        self._channel_topics.clear()
        self.writer = writer
        self.path = path
        self.paths.append(path)
        self.generation += 1
        return writer

    def close_last(self, *, with_stats: bool = True) -> None:
        """Finish the recording's last file; an empty one after a split is removed, not left behind."""
        writer = self.writer
        empty = writer is not None and writer.message_count == 0 and len(self.paths) > 1
        path = self.close_current(with_stats=with_stats)
        if empty and path is not None:
            path.unlink(missing_ok=True)
            self.paths.remove(path)

    def close_current(self, *, with_stats: bool = True) -> Path | None:
        """Finish the open file (stats, summary, footer); returns its path."""
        writer, path = self.writer, self.path
        if writer is None:
            return None
        self.writer = None
        with self.sync_lock:
            try:
                if with_stats:
                    stats = self._stats.metadata_since(self._counters_at_open)
                    writer.add_metadata(names.TOPIC_STATS, stats)
                writer.close()
            except BaseException:
                writer.close()  # marks it closed (and releases the file) even if it raises again
                raise
            finally:
                self._counters_at_open = self._stats.counters()
        return path

    def channel_for(self, topic: str, type_name: str) -> int:
        """The open file's channel for this topic and type, registered on first sight."""
        channel_id = self._channels.get((topic, type_name))
        if channel_id is None:
            channel_id = self._open_channel(topic, type_name)
        return channel_id

    def topic_of(self, channel_id: int) -> str:
        return self._channel_topics[channel_id]

    def open_chunk_bytes(self) -> int:
        return self.writer.open_chunk_bytes if self.writer is not None else 0

    def size(self) -> int:
        """Bytes of the open file, counting its open chunk as it will be once compressed."""
        return self.writer.estimated_size if self.writer is not None else 0

    def learn_type(self, type_name: str, topic: str = "") -> TypeInfo | None:
        """The schema of ``type_name``, asked of the graph once per recording."""
        if type_name in self._types:
            return self._types[type_name]
        type_info = self._types[type_name] = self._lookup_type(type_name) if type_name else None
        if type_info is None:
            log.warning(
                "no schema for type %r%s: recording it without one", type_name, f" on {topic}" * bool(topic)
            )
        return type_info

    def _open_channel(self, topic: str, type_name: str) -> int:
        """Register schema and channel; the schema comes from the graph."""
        type_info = self.learn_type(type_name, topic)
        writer = self.writer
        schema_id = (
            writer.add_schema(type_info.name, "protobuf", type_info.descriptor_set) if type_info else 0
        )
        channel_id = writer.add_channel(topic, "protobuf", schema_id)
        self._channels[(topic, type_name)] = channel_id
        self._channel_topics[channel_id] = topic
        return channel_id
