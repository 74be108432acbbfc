"""``simrec layout LOG|--live -o layout.json``: a Foxglove layout for the topics found."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from simrec_node.live.layout import FORMATS, LayoutPlan, foxglove_layout, lichtblick_layout
from simrec_node.live.layout_topics import topics_in_log, topics_on_graph

from .errors import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "layout",
        help="write a Foxglove layout for a log's (or the live graph's) topics",
        description=(
            "Plots of state tensors' first elements and scalars, an Image panel per camera, a 3D panel "
            "for transforms and scenes, the Topic Graph and the recorder's drops. Import it with the "
            "Foxglove app's Import layout (--format foxglove, the default) or Lichtblick's / Foxglove "
            "Studio 1.x's Import from file (--format lichtblick)."
        ),
    )
    parser.add_argument(
        "files", nargs="*", metavar="FILE", help="the MCAP log (a file, split directory, or files)"
    )
    parser.add_argument("--live", action="store_true", help="the topics the graph publishes now, not a log")
    parser.add_argument("-o", "--output", type=Path, help="where to write the layout (default: stdout)")
    parser.add_argument("--format", choices=FORMATS, default="foxglove", help="layout JSON flavour")
    parser.add_argument("--wait", type=_seconds, default=2.0, help="with --live: seconds to look for topics")
    parser.add_argument("--domain", help="graph domain with --live (default: $SIMREC_DOMAIN or 0)")
    parser.set_defaults(run=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    if bool(args.files) == args.live:
        raise UsageError("simrec layout needs a log (FILE...) or --live, not both")
    if args.live:
        topics = topics_on_graph(args.domain, args.wait)
        if not topics:
            raise UsageError(
                f"no topic is published on the graph (waited {args.wait:g} s): start the sim first"
            )
    else:
        topics = topics_in_log(args.files)
    plan = LayoutPlan.of(topics, stats=args.live)
    text = (
        foxglove_layout(plan) if args.format == "foxglove" else json.dumps(lichtblick_layout(plan), indent=2)
    )
    if args.output is None:
        print(text)
        return 0
    _write(args.output, text + "\n")
    shown = len(plan.plots) + len(plan.images) + bool(plan.scene) + 1
    print(f"wrote {args.output}: {shown} panels ({args.format} layout)", file=sys.stderr)
    return 0


def _write(path: Path, text: str) -> None:
    """All or nothing: a temporary file beside ``path``, renamed over it."""
    if path.is_dir():
        raise UsageError(f"-o {path} is a directory: give a file name, e.g. {path / 'layout.json'}")
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(temporary, path)
