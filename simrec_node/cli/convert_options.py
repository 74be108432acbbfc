"""The converters' options from ``simrec convert``'s arguments: one place, so the serial run and
``--ray`` (each log on its own) convert with the same options and refuse the same flags."""

from __future__ import annotations

import argparse

from simrec_node.convert import NpzOptions, ParquetOptions

from .errors import UsageError


def npz_options(args: argparse.Namespace) -> NpzOptions:
    return NpzOptions(
        topics=tuple(args.topics) or None,
        start=args.start,
        end=args.end,
        align=args.align,
        hz=args.hz,
        interp=args.interp,
        split_episodes=args.split_episodes,
        time=args.time,
        allow_object=args.allow_object,
        compress=args.compress,
        keys=args.keys,
    )


def parquet_options(args: argparse.Namespace) -> ParquetOptions:
    """Parquet's options; the NPZ-only flags are refused (one line)."""
    if args.align or args.hz or args.split_episodes or args.compress:
        raise UsageError(
            "--align, --hz, --split-episodes and --compress apply to .npz output; Parquet keeps each "
            "topic's own rows (with episode_index) and is always compressed"
        )
    if args.keys != "full":
        raise UsageError("--keys applies to .npz output; Parquet names columns by field path")
    return ParquetOptions(topics=tuple(args.topics) or None, start=args.start, end=args.end)
