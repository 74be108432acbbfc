"""``simrec doctor FILE``: check an MCAP file's structure, CRCs and indexes."""

from __future__ import annotations

import argparse

from simrec_node.repair import check


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check an MCAP file: structure, chunk CRCs, indexes and statistics against the data",
        description="Check an MCAP file and print one line per problem, then a verdict. "
        "Exit 0 when healthy, 1 when problems were found, 2 when the file cannot be checked.",
    )
    parser.add_argument("file", help="the MCAP file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    report = check(args.file)
    print("\n".join(report.lines()))
    return 0 if report.healthy else 1
