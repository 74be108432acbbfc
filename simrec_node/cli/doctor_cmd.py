"""``simrec doctor FILE``: check an MCAP file's structure, CRCs and indexes."""

from __future__ import annotations

import argparse

from simrec_node.repair import check

from .status import ProgressBar, bytes_done

# Smaller files are checked in well under a second: a bar would only flicker.
BAR_FROM_BYTES = 32 * 1024 * 1024


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check an MCAP file: structure, chunk CRCs, indexes and statistics against the data",
        description="Check an MCAP file and print one line per problem, then a verdict. "
        "Exit 0 when healthy, 1 when problems were found, 2 when the file cannot be checked.",
    )
    parser.add_argument("file", help="the MCAP file")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar (big files show one)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    bar: ProgressBar | None = None

    def progress(done: int, size: int) -> None:
        nonlocal bar
        if bar is None:
            what = f"checking {args.file}"
            bar = ProgressBar(what, size, plain=bytes_done(what), quiet=args.quiet, min_total=BAR_FROM_BYTES)
        bar.update(done)

    try:
        report = check(args.file, progress)
    finally:
        if bar is not None:
            bar.finish()
    print("\n".join(report.lines()))
    return 0 if report.healthy else 1
