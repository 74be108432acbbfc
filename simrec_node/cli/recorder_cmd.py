"""``simrec recorder status|pause|resume|toggle|split|snapshot``: control running recorders."""

from __future__ import annotations

import argparse
import json
import sys

from simrec_node.graph import Node
from simrec_node.record.control import COMMANDS, send_command

from .errors import UsageError
from .status import human_bytes


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "recorder",
        help="control running `simrec record` recorders: status, pause, resume, split, snapshot",
        description=(
            "Send a command to every recorder of the domain (or the one --node names) and print "
            "one line per recorder. split starts the next numbered file of a splitting recording; "
            "snapshot writes the buffer of a --snapshot-mode recording."
        ),
    )
    parser.add_argument("command", metavar="COMMAND", help=", ".join(COMMANDS))
    parser.add_argument("--node", help="only the recorder with this node name (e.g. /simrec_recorder)")
    parser.add_argument("--domain", help="graph domain (default: $SIMREC_DOMAIN or 0)")
    parser.add_argument(
        "--timeout", type=_seconds, default=2.0, help="seconds to wait for a recorder to be found (default 2)"
    )
    parser.add_argument("--json", action="store_true", help="print each reply as one JSON line")
    parser.set_defaults(run=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seconds must be a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"seconds must be positive, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    if args.command not in COMMANDS:
        raise UsageError(f"unknown recorder command {args.command!r}; try {', '.join(COMMANDS)}")
    with Node("simrec_recorder_ctl", domain=args.domain) as node:
        replies = send_command(node, args.command, target=args.node, timeout_s=args.timeout)
        domain = node.domain
    if not replies:
        named = f" named {args.node}" if args.node else ""
        print(f"simrec: error: no recorder{named} is running on domain {domain}", file=sys.stderr)
        return 1
    failed = False
    for reply in sorted(replies, key=lambda r: r.get("node", "")):
        failed |= "error" in reply
        if args.json:
            print(json.dumps(reply, sort_keys=True))
        elif "error" in reply:
            print(f"simrec: error: {reply['node']}: {reply['error']}", file=sys.stderr)
        else:
            print(describe(args.command, reply))
    return 2 if failed else 0


def describe(command: str, reply: dict) -> str:
    """One line for one recorder's reply."""
    counts = (
        f"{reply['received']:,} received, {reply['written']:,} written, {reply['dropped']:,} dropped, "
        f"queue {human_bytes(reply['queued_bytes'])} / {human_bytes(reply['max_queue_bytes'])}"
    )
    where = reply.get("file") or reply.get("output")
    if command == "split":
        return f"{reply['node']}: finished {reply['path']}; {reply['state']}, file {where}: {counts}"
    if command == "snapshot":
        return f"{reply['node']}: wrote snapshot {reply['path']}; {counts}"
    return f"{reply['node']}: {reply['state']}, file {where}: {counts}"
