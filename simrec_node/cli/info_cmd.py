"""``simrec info FILE | DIR | FILE...``: what a log holds, like ``ros2 bag info``.

A directory of split files (or several files) is summarized as one log, with a line per file.
"""

from __future__ import annotations

import argparse
import json

from simrec_node.info import render_summary, summarize_log, summary_as_dict


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("info", help="summarize an MCAP log: topics, counts, rates, drops")
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="the MCAP file, a directory of split files (run/run_0.mcap, ...), or several files",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    summary = summarize_log(args.files)
    print(json.dumps(summary_as_dict(summary), indent=2) if args.json else render_summary(summary))
    return 0
