"""``simrec recover BROKEN.mcap -o fixed.mcap``: rebuild a valid file from a damaged one."""

from __future__ import annotations

import argparse

from simrec_node.repair import recover

from .status import ProgressBar, bytes_done


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "recover",
        help="rebuild a valid, indexed MCAP file from a truncated or corrupt one",
        description="Copy every intact chunk's messages (and schemas, channels, metadata) of a damaged "
        "MCAP file into a new, valid one; say how many were recovered and where the file broke.",
    )
    parser.add_argument("file", help="the damaged MCAP file")
    parser.add_argument("-o", "--output", required=True, help="the recovered file to write")
    parser.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    bar: ProgressBar | None = None

    def progress(done: int, size: int, messages: int) -> None:
        nonlocal bar
        if bar is None:
            what = f"recovering {args.file}"
            bar = ProgressBar(what, size, plain=bytes_done(what), quiet=args.quiet)
        bar.update(done, f"{messages:,} messages")

    try:
        report = recover(args.file, args.output, overwrite=args.overwrite, progress=progress)
    finally:
        if bar is not None:
            bar.finish()
    print("\n".join(report.lines()))
    return 0
