"""``simrec convert LOG... --ray -o DIR``: each log converted on its own, as one Ray task each.

Parsing and printing only; the work is ``simrec_node.datasets.convert_many``.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator

from simrec_node.convert import LeRobotResult
from simrec_node.datasets import CONVERTERS, convert_many, export_lerobot_ray

from .convert_options import npz_options, parquet_options
from .errors import UsageError
from .status import ProgressBar


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("many logs on Ray")
    group.add_argument(
        "--ray",
        action="store_true",
        help="convert each FILE on its own (-o is a directory: DIR/<log>.parquet, ...; with --format "
        "lerobot one dataset), one Ray task per log, on a local Ray bound to 127.0.0.1 "
        "(pip install 'simrec[ray]')",
    )
    group.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="run the --ray tasks on this Ray cluster (ray.init(address=...))",
    )
    group.add_argument("--ray-cpus", type=int, metavar="N", help="CPUs of the local Ray (default: all)")


def run_ray(args: argparse.Namespace, files: list[str]) -> list[str]:
    """The summary lines of a ``--ray`` conversion."""
    fmt = args.format or "parquet"
    if fmt not in CONVERTERS:  # lerobot: lerobot_on_ray
        raise UsageError(f"--ray converts logs to {' or '.join(CONVERTERS)} (--format), not {fmt}")
    options = parquet_options(args) if fmt == "parquet" else npz_options(args)
    with _log_bar(args, "convert", len(files)) as progress:
        done = convert_many(
            files,
            args.output,
            fmt,
            options,
            overwrite=args.overwrite,
            address=args.ray_address,
            num_cpus=args.ray_cpus,
            progress=progress,
        )
    lines = [f"wrote {len(done)} {fmt} outputs to {args.output}/ (one Ray task per log)"]
    lines += [f"  {item.log} -> {item.output.name}: {item.summary}" for item in done]
    return lines


def lerobot_on_ray(args: argparse.Namespace, files: list[str], mapping: dict, export: dict) -> LeRobotResult:
    """``--format lerobot --ray``: one dataset of every FILE, each log exported as one Ray task
    (``export``: ``export_lerobot``'s keywords, as the serial run passes them)."""
    with _log_bar(args, "export", len(files)) as progress:
        return export_lerobot_ray(
            files,
            args.output,
            mapping,
            address=args.ray_address,
            num_cpus=args.ray_cpus,
            progress=progress,
            **export,
        )


@contextlib.contextmanager
def _log_bar(args: argparse.Namespace, verb: str, logs: int) -> Iterator[Callable[[int, int], None]]:
    """A bar of logs done (``converting 8 logs on Ray``), finished when the block ends."""
    bar = ProgressBar(
        f"{verb}ing {logs} logs on Ray",
        logs,
        plain=lambda done, total: f"{verb}ed {done:.0f} of {total:.0f} logs",
        unit="log",
        quiet=args.quiet,
    )
    try:
        yield lambda done, _total: bar.update(done)
    finally:
        bar.finish()
