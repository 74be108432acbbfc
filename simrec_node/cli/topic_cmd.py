"""``simrec topic list|echo|hz|info``: looking at the live graph."""

from __future__ import annotations

import argparse
import sys
import threading
import time

from simrec_node.graph import Node, RawMessage
from simrec_node.topic_tools import RateMeter, TopicNotFoundError, message_to_text, wait_for_topic

from .errors import UsageError
from .signals import install_stop_handlers


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("topic", help="list, echo, measure topics of the live graph")
    verbs = parser.add_subparsers(title="verbs", metavar="VERB", required=True)

    listing = verbs.add_parser("list", help="topics that have publishers now")
    listing.add_argument("-t", "--show-types", action="store_true", help="print each topic's type")
    listing.add_argument("--wait", type=float, default=1.0, help="seconds to gather the graph (default 1)")
    listing.set_defaults(run=run_list)

    echo = verbs.add_parser("echo", help="print messages of a topic, decoded")
    echo.add_argument("topic")
    echo.add_argument("-n", "--count", type=int, help="exit after this many messages")
    echo.add_argument("--once", action="store_true", help="print one message and exit")
    echo.add_argument("--max-items", type=int, default=16, help="array elements shown per field")
    echo.set_defaults(run=run_echo)

    hz = verbs.add_parser("hz", help="measure the rate of a topic")
    hz.add_argument("topic")
    hz.add_argument("-w", "--window", type=int, default=10000, help="intervals in the sliding window")
    hz.add_argument("--duration", type=float, help="exit after this many seconds")
    hz.set_defaults(run=run_hz)

    info = verbs.add_parser("info", help="type, publishers and subscriptions of a topic")
    info.add_argument("topic")
    info.set_defaults(run=run_info)

    for verb in (listing, echo, hz, info):
        verb.add_argument("--domain", help="graph domain (default: $SIMREC_DOMAIN or 0)")
    for verb in (echo, hz, info):
        verb.add_argument(
            "--wait", type=float, default=2.0, help="seconds to wait for a publisher (default 2)"
        )


def run_list(args: argparse.Namespace) -> int:
    """Exit 0 on an empty graph as ``ros2 topic list`` does (an empty graph is an answer, and scripts
    poll with it), with a note on stderr that names the domain searched: stdout stays the list."""
    with Node("simrec_topic_list", domain=args.domain) as node:
        topics = node.topics(timeout_s=args.wait)
        for topic, types in topics.items():
            print(f"{topic} [{', '.join(types)}]" if args.show_types else topic)
        if not topics:
            print(
                f"simrec: no topic has a publisher on graph domain {node.domain!r} (searched for "
                f"{args.wait:g} s); publishers on another domain? pass --domain or set $SIMREC_DOMAIN",
                file=sys.stderr,
            )
    return 0


def run_info(args: argparse.Namespace) -> int:
    with Node("simrec_topic_info", domain=args.domain) as node:
        types = _find(node, args.topic, args.wait)
        topic = node.resolve_topic(args.topic)
        endpoints = [e for e in node.endpoints() if e.topic == topic]
        print(f"Type: {', '.join(types)}")
        print(f"Publisher count: {sum(e.kind == 'pub' for e in endpoints)}")
        print(f"Subscription count: {sum(e.kind == 'sub' for e in endpoints)}")
    return 0


def run_echo(args: argparse.Namespace) -> int:
    limit = 1 if args.once else args.count
    stop = install_stop_handlers()
    printed = 0
    lock = threading.Lock()

    with Node("simrec_topic_echo", domain=args.domain) as node:
        _find(node, args.topic, args.wait)
        decoders: dict[str, object] = {}

        def on_message(message: RawMessage) -> None:
            nonlocal printed
            decode = decoders.get(message.type_name)
            if decode is None:
                type_info = node.lookup_type(message.type_name)
                decode = decoders[message.type_name] = (
                    type_info.message_class.FromString if type_info else False
                )
            with lock:
                if limit is not None and printed >= limit:
                    return
                if decode:
                    print(message_to_text(decode(message.data), max_items=args.max_items))
                else:
                    what = message.type_name or "unknown type"
                    print(f"<{len(message.data)} bytes of {what}: no schema on the graph>")
                print("---", flush=True)
                printed += 1
                if limit is not None and printed >= limit:
                    stop.set()

        node.create_subscription(None, args.topic, on_message)
        stop.wait()
    return 0


def run_hz(args: argparse.Namespace) -> int:
    stop = install_stop_handlers()
    meter = RateMeter(args.window)
    with Node("simrec_topic_hz", domain=args.domain) as node:
        _find(node, args.topic, args.wait)
        node.create_subscription(None, args.topic, lambda _message: meter.tick())
        started = time.monotonic()
        while not stop.wait(1.0):
            report = meter.report()
            if report is not None:
                print(
                    f"average rate: {report.rate_hz:.3f}\n"
                    f"\tmin: {report.min_s:.6f}s max: {report.max_s:.6f}s "
                    f"std dev: {report.std_dev_s:.6f}s window: {report.window}",
                    flush=True,
                )
            if args.duration is not None and time.monotonic() - started >= args.duration:
                break
    return 0


def _find(node: Node, topic: str, wait_s: float) -> list[str]:
    try:
        return wait_for_topic(node, topic, wait_s)
    except TopicNotFoundError as exc:
        raise UsageError(str(exc)) from None
