"""``simrec record``: the habits of ``ros2 bag record``."""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from simrec_node.graph.node_args import NodeArgs
from simrec_node.record import Recorder, RecordOptions, TopicSelection, prepare_output

from .errors import UsageError
from .recording_report import recording_status, report_recording
from .serve_cmd import add_server_arguments, start_live
from .signals import install_stop_handlers
from .status import StatusLine


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
    parser.add_argument("-o", "--output", help="output file (default: simrec_<date>-<time>.mcap)")
    parser.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    parser.add_argument(
        "--compression", choices=["zstd", "lz4", "none"], default="zstd", help="chunk compression"
    )
    parser.add_argument(
        "--chunk-size", type=_positive_int, default=4 * 1024 * 1024, help="chunk size in bytes"
    )
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--max-messages", type=_positive_int, help="stop after recording this many messages")
    parser.add_argument(
        "--max-cache-size",
        type=_positive_int,
        default=RecordOptions.max_queue_bytes,
        help="bytes received but not yet written that the recorder may hold (default 64 MiB)",
    )
    parser.add_argument(
        "--when-full",
        choices=["block", "drop"],
        default="block",
        help="when the cache is full: hold publishers back (block, lossless) or drop and count (drop)",
    )
    parser.add_argument("--node-name", default="simrec_recorder", help="the recorder's node name")
    parser.add_argument("--domain", help="graph domain (default: $SIMREC_DOMAIN or 0)")
    parser.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="metadata to store")
    parser.add_argument("-q", "--quiet", action="store_true", help="no status line")
    add_server_arguments(parser, switch=True)
    parser.set_defaults(run=run, default_node_name="simrec_recorder")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


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
    options = RecordOptions(
        output=prepare_output(args.output, overwrite=args.overwrite),
        selection=selection,
        compression=args.compression,
        chunk_size=args.chunk_size,
        max_messages=args.max_messages,
        max_queue_bytes=args.max_cache_size,
        block_when_full=args.when_full == "block",
        node_name=node_args.name or args.node_name,
        namespace=node_args.namespace or "/",
        domain=args.domain,
        meta=_parse_meta(args.meta),
        command_line=shlex.join(["simrec", *sys.argv[1:]]),
    )
    stop = install_stop_handlers()
    live = start_live(args, selection.accepts)
    recorder = Recorder(options, tap=live.forward if live else None)
    try:
        recorder.start()
    except BaseException:
        if live:
            live.stop()
        raise
    what = ", ".join(selection.topics) if not selection.needs_wildcard else "all matching topics"
    print(f"recording {what} to {options.output}", file=sys.stderr, flush=True)
    status = StatusLine(quiet=args.quiet)
    started = time.monotonic()
    try:
        while not stop.wait(0.5):
            elapsed = time.monotonic() - started
            status.update(recording_status(recorder, elapsed))
            if recorder.finished.is_set() or recorder.write_error is not None:
                break
            if args.duration is not None and elapsed >= args.duration:
                break
    finally:
        status.finish()
        recorder.stop()
        if live:
            live.stop()
    return report_recording(recorder, options.output)
