"""``simrec convert LOG... --ray -o DIR``: each log converted on its own, as one Ray task each.

Parsing and printing only; the work is ``simrec_node.datasets.convert_many``.
"""

from __future__ import annotations

import argparse

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
    bar = ProgressBar(
        f"converting {len(files)} logs on Ray",
        len(files),
        plain=lambda done, total: f"converted {done:.0f} of {total:.0f} logs",
        unit="log",
        quiet=args.quiet,
    )
    try:
        done = convert_many(
            files,
            args.output,
            fmt,
            options,
            overwrite=args.overwrite,
            address=args.ray_address,
            num_cpus=args.ray_cpus,
            progress=lambda n, _total: bar.update(n),
        )
    finally:
        bar.finish()
    lines = [f"wrote {len(done)} {fmt} outputs to {args.output}/ (one Ray task per log)"]
    lines += [f"  {item.log} -> {item.output.name}: {item.summary}" for item in done]
    return lines


def lerobot_on_ray(
    args: argparse.Namespace, files: list[str], mapping: dict, fps: float | None, task: str | None
) -> LeRobotResult:
    """``--format lerobot --ray``: one dataset of every FILE, each log exported as one Ray task."""
    bar = ProgressBar(
        f"exporting {len(files)} logs on Ray",
        len(files),
        plain=lambda done, total: f"exported {done:.0f} of {total:.0f} logs",
        unit="log",
        quiet=args.quiet,
    )
    try:
        return export_lerobot_ray(
            files,
            args.output,
            mapping,
            fps=fps,
            task=task,
            overwrite=args.overwrite,
            vcodec=args.vcodec,
            address=args.ray_address,
            num_cpus=args.ray_cpus,
            progress=lambda n, _total: bar.update(n),
        )
    finally:
        bar.finish()
