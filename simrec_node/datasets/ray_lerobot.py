"""Many logs into one LeRobot dataset on Ray (``simrec convert LOG... --format lerobot --ray -o DIR``).

Each log is exported by ``export_lerobot`` as one Ray task into a part of its own (a temporary
directory beside ``DIR``); ``merge_lerobot`` then joins the parts in the order the logs were
given, which is the dataset a serial export of the same logs writes (indices shifted, stats
pooled, videos joined without re-encoding). Parts must agree on fps: each takes ``fps`` where it
is given, else its log's own rate; logs recorded at other rates are one line asking for ``--fps``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from simrec_node.convert.lerobot import LeRobotResult, check_lerobot_output, export_lerobot
from simrec_node.convert.lerobot_merge import merge_lerobot
from simrec_node.logs import each_recording

from .errors import DatasetError
from .ray_convert import run_tasks
from .ray_local import ray_session

PathLike = str | os.PathLike[str]


def _export_part(log: str, part: str, mapping: Mapping | None, options: dict) -> LeRobotResult:
    """One log's part (the task): ``export_lerobot`` as the serial run calls it, for one log."""
    return export_lerobot([log], part, mapping, **options)


def export_lerobot_ray(
    logs: Sequence[PathLike],
    out_dir: PathLike,
    mapping: Mapping | None = None,
    *,
    fps: float | None = None,
    task: str | None = None,
    overwrite: bool = False,
    vcodec: str = "h264",
    crf: int | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LeRobotResult:
    """``export_lerobot(logs, out_dir, ...)`` with one Ray task per log (see the module docstring).

    Raises:
        DatasetError: no log, or logs that failed in their tasks (each named).
        ConvertError: an output directory that holds something else, parts of other fps or
            features (nothing is left behind).
    """
    names = [os.fspath(log) for log in each_recording(logs)]  # a folder of runs: each run its own
    if not names:
        raise DatasetError("no log to export")
    target = check_lerobot_output(out_dir, overwrite=overwrite)  # before any task runs
    target.parent.mkdir(parents=True, exist_ok=True)
    options = {"fps": fps, "task": task, "vcodec": vcodec, "crf": crf}
    with tempfile.TemporaryDirectory(prefix=f".{target.name}.parts-", dir=target.parent) as parts_dir:
        parts = [str(Path(parts_dir) / f"part-{i:05d}") for i in range(len(names))]
        calls = [(log, part, mapping, options) for log, part in zip(names, parts, strict=True)]
        with ray_session(address, num_cpus=num_cpus) as ray:
            results = run_tasks(ray, _export_part, calls, names, progress)
        merged = merge_lerobot(parts, target, overwrite=overwrite)  # other fps: one line, "--fps"
    merged.notes[:0] = [note for result in results for note in result.notes]
    merged.problems[:0] = [problem for result in results for problem in result.problems]
    return merged
