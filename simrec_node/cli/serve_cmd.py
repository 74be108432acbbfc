"""``simrec serve``: the live graph in Foxglove over WebSocket, and ``record --serve``'s options."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from simrec_node.graph.node_args import NodeArgs
from simrec_node.live import DEFAULT_MAX_BYTES_PER_S, DEFAULT_MAX_RATE_HZ, LiveBridge, LiveOptions
from simrec_node.record import TopicSelection

from .errors import UsageError
from .mapped_memory import MappedMemoryCheck, note_no_shared_memory
from .signals import install_stop_handlers
from .status import StatusLine

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="show the live graph in Foxglove (WebSocket server, no recording)",
        description=(
            "Serve graph topics to Foxglove over WebSocket until Ctrl-C (any Foxglove app, Foxglove "
            "Studio 1.x, Lichtblick: foxglove.sdk.v1.1, foxglove.sdk.v1 or foxglove.websocket.v1). "
            "With no topics, every topic is served, including ones that appear later."
        ),
    )
    parser.add_argument("topics", nargs="*", help="topics to serve (default: all)")
    parser.add_argument("-a", "--all", action="store_true", help="serve every topic (the default)")
    parser.add_argument("-e", "--regex", help="serve topics matching this regular expression")
    parser.add_argument("-x", "--exclude-regex", help="skip topics matching this regular expression")
    add_server_arguments(parser)
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--domain", help="graph domain (default: $SIMREC_DOMAIN or 0)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no status line")
    parser.set_defaults(run=run, default_node_name="simrec_live")


def add_server_arguments(parser: argparse.ArgumentParser, *, switch: bool = False) -> None:
    """``--host``/``--port`` (and, for ``record``, the ``--serve`` switch that enables them)."""
    if switch:
        parser.add_argument(
            "--serve", action="store_true", help="also show the recorded topics live in Foxglove (WebSocket)"
        )
    parser.add_argument(
        "--host",
        help=f"address the live view binds (default {DEFAULT_HOST}; beyond loopback: a warning)",
    )
    parser.add_argument("--port", type=_port, help=f"live view port, 0 = any free (default {DEFAULT_PORT})")
    add_tls_arguments(parser)
    parser.add_argument(
        "--allow-publish",
        action="store_true",
        help="let viewers publish onto the graph (Teleop, Publish panels); off by default",
    )
    parser.add_argument(
        "--live-bandwidth",
        type=_per_second("MB/s"),
        metavar="MB/S",
        help=(
            "MB/s of big messages (64 KiB and more: frames, big tensors) sent to viewers; beyond it "
            "they skip the viewers, never the recording; while `record` is behind, 2/s per topic. "
            "0 = no limit "
            f"(default {DEFAULT_MAX_BYTES_PER_S / 1e6:g})"
        ),
    )
    parser.add_argument(
        "--live-rate",
        type=_per_second("messages/s"),
        metavar="HZ",
        help=(
            "messages per second of each topic sent to viewers; beyond it they skip the viewers, "
            f"never the recording. 0 = every message (default {DEFAULT_MAX_RATE_HZ:g})"
        ),
    )


def add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    """``--tls-cert``/``--tls-key``: serve ``wss://`` (every command with a Foxglove server)."""
    parser.add_argument("--tls-cert", type=Path, metavar="PEM", help="serve wss:// with this certificate")
    parser.add_argument("--tls-key", type=Path, metavar="PEM", help="the private key of --tls-cert")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return value


def _per_second(unit: str) -> Callable[[str], float]:
    """A parser of a rate limit in ``unit``: a number >= 0, where 0 lifts the limit."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not value >= 0:  # also refuses nan
            raise argparse.ArgumentTypeError(f"expected {unit} >= 0 (0: no limit), got {text!r}")
        return value

    return parse


def start_live(args: argparse.Namespace, accepts: Callable[[str], bool]) -> LiveBridge | None:
    """Bind the live view (``LiveError`` when it cannot) and say where to connect; None when
    ``record`` was not asked to ``--serve``."""
    if not getattr(args, "serve", True):
        live_options = (
            args.host,
            args.port,
            args.live_bandwidth,
            args.live_rate,
            args.tls_cert,
            args.tls_key,
        )
        if any(option is not None for option in live_options) or args.allow_publish:
            raise UsageError(
                "--host/--port/--live-bandwidth/--live-rate/--tls-cert/--tls-key/--allow-publish set up "
                "the live view: add --serve to use them"
            )
        return None
    host = args.host if args.host is not None else DEFAULT_HOST
    port = args.port if args.port is not None else DEFAULT_PORT
    # `simrec serve --ros-args -r __node:=NAME` names the bridge's node (in `record`, it names the recorder)
    node_args = getattr(args, "node_args", None) if not hasattr(args, "serve") else None
    node_name = (node_args.name if node_args is not None else None) or "simrec_live"
    bandwidth = DEFAULT_MAX_BYTES_PER_S if args.live_bandwidth is None else args.live_bandwidth * 1e6
    rate = DEFAULT_MAX_RATE_HZ if args.live_rate is None else args.live_rate
    options = LiveOptions(
        host=host,
        port=port,
        domain=args.domain,
        node_name=node_name,
        max_bytes_per_s=bandwidth or None,
        max_rate_hz=rate or None,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        allow_publish=args.allow_publish,
    )
    bridge = LiveBridge(options, accepts)
    bridge.start()
    if args.allow_publish:
        print(
            "live view: viewers may publish onto the graph (--allow-publish): their channels become "
            "publishers of their topics",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"live view at {bridge.url} (Foxglove: Open connection -> Foxglove WebSocket -> {bridge.url})",
        file=sys.stderr,
        flush=True,
    )
    return bridge


def run(args: argparse.Namespace) -> int:
    node_args = getattr(args, "node_args", None) or NodeArgs()
    if node_args.parameter_overrides:
        raise UsageError("simrec serve has no parameters (-p); use its options instead")
    topics = tuple(node_args.remap_topic(topic, "simrec_live") for topic in args.topics)
    everything = args.all or not (topics or args.regex)
    try:
        selection = TopicSelection(topics, everything, args.regex, args.exclude_regex)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    stop = install_stop_handlers()
    bridge = start_live(args, selection.accepts)
    note_no_shared_memory()
    status = StatusLine(quiet=args.quiet)
    mapped_memory = MappedMemoryCheck()
    started = time.monotonic()
    try:
        bridge.follow(["/**"] if selection.needs_wildcard else selection.topics)
        while not stop.wait(0.5):
            elapsed = time.monotonic() - started
            mapped_memory.poll(elapsed)  # warns once, over the status line
            status.update(
                f"{elapsed:7.1f} s  {len(bridge.topics)} topics  {bridge.forwarded:,} msgs forwarded"
            )
            if args.duration is not None and elapsed >= args.duration:
                break
    finally:
        status.finish()
        bridge.stop()
    print(f"served {bridge.forwarded:,} messages", file=sys.stderr)
    report_thinned(bridge)
    return 0


def report_thinned(bridge: LiveBridge) -> None:
    """Say which topics the viewers saw only part of, and how to see more."""
    if not bridge.thinned:
        return
    counts = ", ".join(f"{topic} {count:,}" for topic, count in sorted(bridge.thinned.items()))
    print(
        f"live view: {bridge.describe_limits()} were not sent to viewers ({counts}); "
        "--live-rate and --live-bandwidth raise the limits, 0 lifts them",
        file=sys.stderr,
    )
