"""``simrec record``: the habits of ``ros2 bag record``."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from simrec_node.graph.node_args import NodeArgs
from simrec_node.mcap.writer import CHUNK_SIZE
from simrec_node.record import (
    RecorderNode,
    RecordOptions,
    TopicSelection,
    prepare_output,
    prepare_split_output,
)
from simrec_node.record.keyboard import HELP as KEYS_HELP
from simrec_node.record.keyboard import RecordKeys

from .byte_sizes import parse_byte_size
from .errors import UsageError
from .mapped_memory import MappedMemoryCheck, note_no_shared_memory
from .numbers import non_negative_float, positive_float, positive_int
from .recording_report import recording_status, replacing_note, report_recording
from .serve_cmd import add_server_arguments, report_thinned, start_live
from .signals import install_stop_handlers
from .status import StatusLine, print_over_status


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "record",
        help="record topics of the graph to an MCAP file",
        description="Record topics to MCAP. Ctrl-C (or SIGTERM) finishes the file cleanly.",
    )
    parser.add_argument("topics", nargs="*", help="topics to record (e.g. /sim/state /clock)")
    parser.add_argument(
        "-a", "--all", action="store_true", help="record every topic, including ones that appear later"
    )
    parser.add_argument("-e", "--regex", help="record topics matching this regular expression")
    parser.add_argument(
        "-x", "--exclude-regex", help="skip topics matching this regular expression (with -a/-e)"
    )
    parser.add_argument(
        "-o", "--output", help="output file (default, or given empty: a new simrec_<date>-<time>.mcap)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    parser.add_argument(
        "--compression", choices=["zstd", "lz4", "none"], default="zstd", help="chunk compression"
    )
    parser.add_argument("--chunk-size", type=positive_int, default=CHUNK_SIZE, help="chunk size in bytes")
    parser.add_argument("--duration", type=positive_float, metavar="S", help="stop after S seconds")
    parser.add_argument("--max-messages", type=positive_int, help="stop after recording this many messages")
    parser.add_argument(
        "--max-cache-size",
        type=parse_byte_size,
        help="bytes received but not yet written that the recorder may hold (default 64M); "
        "with --snapshot-mode, the size of the snapshot buffer (default 256M)",
    )
    parser.add_argument(
        "--when-full",
        choices=["block", "drop"],
        default="block",
        help="when the cache is full: hold publishers back (block, lossless) or drop and count (drop)",
    )
    parser.add_argument(
        "--stats-period",
        type=non_negative_float,
        default=RecordOptions.stats_period_s,
        metavar="S",
        help="publish the recorder's counters on /simrec/stats every S seconds (default 1; 0: off)",
    )
    parser.add_argument(
        "--disable-keyboard-controls", action="store_true", help="ignore keys in the terminal"
    )
    parser.add_argument(
        "--flush-interval",
        type=non_negative_float,
        default=RecordOptions.flush_interval_s,
        metavar="S",
        help="write out the open chunk and sync at most S seconds after a message arrived, so a "
        "killed recorder loses at most that much (default 1; 0: only full chunks)",
    )
    split = parser.add_argument_group(
        "splitting and snapshots", "these write a directory of numbered files: -o run -> run/run_0.mcap, ..."
    )
    split.add_argument(
        "-b", "--max-bag-size", type=parse_byte_size, metavar="BYTES", help="start a new file at this size"
    )
    split.add_argument(
        "--max-bag-duration", type=positive_float, metavar="S", help="start a new file every S seconds"
    )
    split.add_argument(
        "--snapshot-mode",
        action="store_true",
        help="keep the last --max-cache-size bytes / --snapshot-duration seconds in memory and write "
        "them to a new file on request (simrec recorder snapshot, or the n key)",
    )
    split.add_argument(
        "--snapshot-duration", type=positive_float, metavar="S", help="snapshot buffer length in seconds"
    )
    parser.add_argument(
        "--start-paused", action="store_true", help="start paused (resume with simrec recorder)"
    )
    parser.add_argument(
        "--min-free-space",
        type=parse_byte_size,
        default=0,
        metavar="BYTES",
        help="close the file cleanly when the disk has less than this free (default 0: at a full disk)",
    )
    parser.add_argument(
        "--on-disk-full",
        choices=["stop", "pause"],
        default="stop",
        help="stop with an error (default), or pause until there is room and go on in the next file "
        "(needs a split recording)",
    )
    parser.add_argument("--node-name", default="simrec_recorder", help="the recorder's node name")
    parser.add_argument("--domain", help="graph domain (default: $SIMREC_DOMAIN or 0)")
    parser.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="metadata to store")
    parser.add_argument("-q", "--quiet", action="store_true", help="no status line")
    add_server_arguments(parser, switch=True)
    parser.set_defaults(run=run, default_node_name="simrec_recorder")


_MIN_FILE_BYTES = 1 << 20
_MIN_FILE_DURATION_S = 1.0


def _check_limits(args: argparse.Namespace) -> None:
    """Refuse limits no recording could honour before anything starts."""
    if args.max_bag_size is not None and args.max_bag_size < _MIN_FILE_BYTES:
        raise UsageError(f"--max-bag-size {args.max_bag_size} is below the minimum of 1M (1048576 bytes)")
    if args.max_bag_duration is not None and args.max_bag_duration < _MIN_FILE_DURATION_S:
        raise UsageError(f"--max-bag-duration {args.max_bag_duration:g} is below the minimum of 1 second")
    if args.snapshot_mode and (args.max_bag_size or args.max_bag_duration):
        raise UsageError("--snapshot-mode writes a file per snapshot; it does not take -b/--max-bag-duration")
    if args.snapshot_duration is not None and not args.snapshot_mode:
        raise UsageError("--snapshot-duration needs --snapshot-mode")
    if args.max_cache_size is not None and args.max_cache_size <= 0:
        raise UsageError("--max-cache-size must be positive")
    splits = args.max_bag_size or args.max_bag_duration or args.snapshot_mode
    if args.on_disk_full == "pause" and not splits:
        raise UsageError(
            "--on-disk-full pause goes on in a new file: it needs -b/--max-bag-size or --max-bag-duration"
        )


def _parse_meta(pairs: list[str]) -> dict[str, str]:
    meta = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--meta {pair!r}: expected KEY=VALUE")
        meta[key] = value
    return meta


def run(args: argparse.Namespace) -> int:
    node_args = getattr(args, "node_args", None) or NodeArgs()
    if node_args.parameter_overrides:
        raise UsageError("simrec record has no parameters (-p); use its options instead")
    topics = tuple(node_args.remap_topic(topic, args.node_name) for topic in args.topics)
    try:
        selection = TopicSelection(topics, args.all, args.regex, args.exclude_regex)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _check_limits(args)
    splits = bool(args.max_bag_size or args.max_bag_duration or args.snapshot_mode)
    replacing = None
    if args.overwrite and args.output:  # said before preparing, which removes a split recording's files
        named = Path(args.output)
        replacing = replacing_note(named.with_suffix("") if splits and named.suffix == ".mcap" else named)
    if splits:
        output = prepare_split_output(args.output or None, overwrite=args.overwrite).path
    else:
        output = prepare_output(args.output or None, overwrite=args.overwrite)
    cache = {}
    if args.max_cache_size is not None:
        cache = {"snapshot_max_bytes" if args.snapshot_mode else "max_queue_bytes": args.max_cache_size}
    options = RecordOptions(
        output=output,
        selection=selection,
        compression=args.compression,
        chunk_size=args.chunk_size,
        max_messages=args.max_messages,
        block_when_full=args.when_full == "block",
        flush_interval_s=args.flush_interval,
        max_file_bytes=args.max_bag_size,
        max_file_duration_s=args.max_bag_duration,
        snapshot_mode=args.snapshot_mode,
        snapshot_duration_s=args.snapshot_duration,
        start_paused=args.start_paused,
        min_free_bytes=args.min_free_space,
        pause_on_disk_full=args.on_disk_full == "pause",
        **cache,
        node_name=node_args.name or args.node_name,
        namespace=node_args.namespace or "/",
        domain=args.domain,
        meta=_parse_meta(args.meta),
        command_line=shlex.join(["simrec", *sys.argv[1:]]),
        stats_period_s=args.stats_period,
    )
    stop = install_stop_handlers()
    live = start_live(args, selection.accepts)
    recorder = RecorderNode(options, tap=live.forward if live else None)
    if live:
        live.yield_to(recorder.is_behind)
    try:
        recorder.start()
    except BaseException:
        if live:
            live.stop()
        raise
    domain = recorder.node.domain
    keys = _start_keys(recorder, args)
    what = ", ".join(selection.topics) if not selection.needs_wildcard else "all matching topics"
    where = f"{options.output}{'/' if options.split else ''}"
    mode = " (snapshot mode)" if options.snapshot_mode else " (paused)" if options.start_paused else ""
    if replacing:
        print(replacing, file=sys.stderr, flush=True)
    print(f"recording {what} to {where}{mode} on graph domain {domain!r}", file=sys.stderr, flush=True)
    note_no_shared_memory()
    status = StatusLine(quiet=args.quiet)
    mapped_memory = MappedMemoryCheck()
    started = time.monotonic()
    try:
        while not stop.wait(0.5):
            elapsed = time.monotonic() - started
            mapped_memory.poll(elapsed)  # warns once, over the status line
            status.update(recording_status(recorder, elapsed))
            if recorder.finished.is_set() or recorder.write_error is not None:
                break
            if args.duration is not None and elapsed >= args.duration:
                break
    finally:
        if keys is not None:
            keys.stop()
        status.finish()
        recorder.stop()
        if live:
            live.stop()
    code = report_recording(recorder, options.output, domain)
    if live:
        report_thinned(live)  # what the viewers missed; the recording has every message
    return code


def _start_keys(recorder: RecorderNode, args: argparse.Namespace) -> RecordKeys | None:
    """Space pauses/resumes, s splits, n snapshots: only when stdin is a terminal."""
    if args.disable_keyboard_controls or not RecordKeys.available():
        return None
    keys = RecordKeys(recorder, print_over_status)
    keys.start()
    if not args.quiet:
        print(KEYS_HELP, file=sys.stderr)
    return keys
