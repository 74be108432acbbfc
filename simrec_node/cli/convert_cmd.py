"""``simrec convert FILE -o OUT``: a log to NPZ arrays (``.npz``), Parquet tables (``.parquet``, a
directory of one file per topic) or H.264 video (``.mp4`` / DIR/).

FILE may be a directory of split files or several files: they are converted as one log.
"""

from __future__ import annotations

import argparse
import os
import sys

from simrec_node.convert import (
    ConvertError,
    Mp4Options,
    convert_clips,
    convert_to_mp4,
    convert_to_npz,
    convert_to_parquet,
    open_log,
)
from simrec_node.convert.episodes import prefix
from simrec_node.convert.mp4 import is_directory_output
from simrec_node.logs import each_recording

from .convert_options import npz_options, parquet_options
from .convert_ray import add_arguments as add_ray_arguments
from .convert_ray import lerobot_on_ray, run_ray
from .errors import UsageError
from .inputs import refuse_stray_topics, require_files, take_back_paths
from .signals import install_stop_handlers
from .status import ProgressBar, bytes_done, human_bytes


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert an MCAP log to NPZ arrays (.npz), Parquet tables (.parquet) or MP4 video "
        "(.mp4, or DIR/ for every camera)",
        description="Convert an MCAP log: numeric topics to an .npz of [T, ...] arrays or to a "
        "run.parquet/ directory of one Parquet table per topic, camera topics to H.264 .mp4 video. "
        "The output format follows the -o name, or --format.",
    )
    parser.add_argument(
        "files",
        nargs="*",  # "+" would let --topics swallow the file: inputs.take_back_paths hands it back
        metavar="FILE",
        help="the MCAP log: a file, a directory of split files (run/run_0.mcap, ...), or several files",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="out.npz, run.parquet (a directory: one table per topic), out.mp4, "
        "or DIR/ (one video per camera); with --format lerobot, the dataset's directory",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="the output format, where the -o name does not say it (default: from the -o name)",
    )
    parser.add_argument(
        "-t",
        "--topic",
        dest="topics",
        action="append",
        default=[],
        metavar="TOPIC",
        help="a topic to convert, repeatable: -t /a -t /b (default: every numeric topic / the only camera)",
    )
    parser.add_argument(
        "--topics",
        dest="topics",
        action="extend",
        nargs="+",
        metavar="TOPIC",
        help="several topics to convert: --topics /a /b",
    )
    parser.add_argument(
        "--start", type=float, help="seconds from the start of the log (of sim time on the sim axis)"
    )
    parser.add_argument(
        "--end", type=float, help="seconds from the start of the log (of sim time on the sim axis)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress or summary")
    npz = parser.add_argument_group("NPZ")
    npz.add_argument("--align", metavar="TOPIC", help="resample every topic at this topic's message times")
    npz.add_argument("--hz", type=float, help="resample every topic on a grid at this rate")
    npz.add_argument(
        "--time",
        choices=("auto", "sim", "log"),
        default="auto",
        help="time axis of --start/--end/--hz/--align/--split-episodes: sim time (publish_time) or "
        "receive time (log); auto (default): sim where every selected topic carries it",
    )
    npz.add_argument(
        "--interp",
        choices=("hold", "nearest"),
        default="hold",
        help="resampling: previous value (default) or nearest in time",
    )
    npz.add_argument(
        "--split-episodes",
        action="store_true",
        help="one group of arrays per episode (episode_000/...) from a done field (single env)",
    )
    npz.add_argument(
        "--allow-object",
        action="store_true",
        help="keep strings, bytes and ragged fields as object arrays instead of skipping them",
    )
    npz.add_argument("--compress", action="store_true", help="write a compressed .npz")
    npz.add_argument(
        "--keys",
        choices=("full", "short"),
        default="full",
        help="array names: full (/robot/state/tensors.position, default) or short (robot/state/position)",
    )
    npz.add_argument(
        "--list-skipped", action="store_true", help="name every skipped field and why (one line each)"
    )
    lerobot = parser.add_argument_group(
        "LeRobot (--format lerobot: each FILE is one log, -o DIR the dataset)"
    )
    lerobot.add_argument(
        "--map",
        dest="feature_map",
        action="append",
        default=[],
        metavar="KEY=TOPIC[:FIELD,...]",
        help="a feature from a topic, repeatable: --map action=/rollout/action --map "
        "observation.images.front=/camera/front (KEY= drops one); over the default mapping",
    )
    lerobot.add_argument(
        "--mapping", metavar="MAP.yaml", help="features (and fps, task) from a YAML file; --map goes on top"
    )
    lerobot.add_argument("--task", help="the task text of every frame (default: each log's name)")
    lerobot.add_argument(
        "--vcodec",
        choices=("h264", "av1", "hevc"),
        default="h264",
        help="video codec (default h264; av1, LeRobot's own default, or hevc where the ffmpeg has them)",
    )
    mp4 = parser.add_argument_group("MP4")
    mp4.add_argument("--fps", type=float, help="output frame rate (default: the camera's recorded rate)")
    mp4.add_argument(
        "--each-frame",
        action="store_true",
        help="write every recorded frame once at --fps, ignoring time gaps (as Gymnasium's RecordVideo)",
    )
    mp4.add_argument("--every", type=int, default=1, metavar="N", help="use every N-th camera frame")
    mp4.add_argument(
        "--video-length", type=int, metavar="N", help="split into clips of N frames (_000.mp4, ...)"
    )
    mp4.add_argument("--overlay", action="store_true", help="draw the time and frame number on each frame")
    mp4.add_argument(
        "--tile", action="store_true", help="put several --topic cameras side by side in one video"
    )
    mp4.add_argument(
        "--clips",
        action="store_true",
        help="-o DIR/: one video per clip the Gymnasium wrappers recorded, named as RecordVideo names "
        "it (DIR/rl-video-episode-8.mp4), every frame at the recorded fps",
    )
    mp4.add_argument(
        "--depth-range",
        type=float,
        nargs=2,
        metavar=("MIN", "MAX"),
        help="depth values mapped to the colormap ends (default: from the first frame)",
    )
    add_ray_arguments(parser)
    parser.set_defaults(run=run)


FORMATS = ("npz", "parquet", "mp4", "lerobot")


def _kind(output: str, chosen: str | None = None) -> str:
    if chosen is not None:
        return chosen
    if output.lower().rstrip("/" + os.sep).endswith(".parquet"):
        return "parquet"
    if output.lower().endswith(".npz"):
        return "npz"
    if output.lower().endswith(".mp4") or is_directory_output(output):
        return "mp4"
    raise UsageError(
        f"cannot tell the format of {output!r}: name it *.npz, *.parquet or *.mp4, pass --format, "
        "or give a directory (DIR/)"
    )


def run(args: argparse.Namespace) -> int:
    if not args.files:
        args.topics, args.files = take_back_paths(args.topics)
    files = require_files(args.files, "simrec convert run.mcap -t /sim/state -o out.npz")
    refuse_stray_topics(files, args.topics)
    if args.ray or args.ray_address or args.format == "lerobot":  # each log on its own: count them
        files = each_recording(files)
    if (args.ray or args.ray_address) and args.format != "lerobot":
        lines = run_ray(args, files)
        if not args.quiet:
            print("\n".join(lines))
        return 0
    kind = _kind(args.output, args.format or ("mp4" if args.clips else None))
    if args.clips and kind != "mp4":
        raise UsageError(f"--clips writes MP4 videos into a directory (-o clips/), not {kind}")
    if kind == "lerobot":
        return _run_lerobot(args, files)
    reader = open_log(files)
    stop = install_stop_handlers()
    bar: ProgressBar | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if stop.is_set():
            raise KeyboardInterrupt
        if bar is None:
            what = f"converting {reader.path}"
            bar = ProgressBar(what, total, plain=bytes_done(what), quiet=args.quiet)
        bar.update(done)

    try:
        runner = {"npz": _run_npz, "parquet": _run_parquet, "mp4": _run_mp4}[kind]
        lines = runner(args, reader, progress)
    finally:
        if bar is not None:
            bar.finish()
    if not args.quiet:
        print("\n".join(lines))
    for problem in reader.problems:
        print(f"simrec: warning: {problem}", file=sys.stderr)
    return 0


def _run_npz(args: argparse.Namespace, reader, progress) -> list[str]:
    options = npz_options(args)
    result = convert_to_npz(reader, args.output, options, overwrite=args.overwrite, progress=progress)
    meta = result.meta
    size = os.path.getsize(args.output)
    lines = [
        f"wrote {args.output}: {_plural(len(result.arrays), 'array')} from "
        f"{_plural(meta['messages'], 'message')} on {_plural(len(meta['topics']), 'topic')}, "
        f"{human_bytes(size)}"
    ]
    if meta["align"]:
        lines.append(
            f"aligned: {meta['align']['rows']} rows on {meta['align']['base']} ({meta['align']['mode']}, "
            f"{meta['time_axis']} time)"
        )
    episodes = meta["episodes"]
    if episodes:
        if episodes.get("split"):
            lines.append(
                f"episodes: {episodes['count']} groups ({prefix(episodes['first'])}/...) from "
                f"{episodes['topic']}, split on {meta['time_axis']} time"
            )
        elif episodes.get("note"):
            lines.append(f"episodes: {episodes['note']}")
    for key, note in meta["notes"].items():
        lines.append(f"note: {key}: {note}")
    skipped = meta["skipped"]
    if skipped:
        hints = [] if args.list_skipped else ["--list-skipped names them"]
        hints += [] if args.allow_object else ["--allow-object keeps them as object arrays"]
        hint = f"; {', '.join(hints)}" if hints else ""
        lines.append(
            f"skipped {_plural(len(skipped), 'field')} that make no numeric array (strings, bytes, "
            f"ragged), listed in __meta__{hint}"
        )
        if args.list_skipped:
            lines += [f"  {key}: {why}" for key, why in skipped.items()]
    return lines


def _run_parquet(args: argparse.Namespace, reader, progress) -> list[str]:
    options = parquet_options(args)
    result = convert_to_parquet(reader, args.output, options, overwrite=args.overwrite, progress=progress)
    lines = [
        f"wrote {args.output}/: {_plural(len(result.files), 'table')} "
        f"({_plural(sum(result.rows.values()), 'row')}), one .parquet file per topic"
    ]
    lines += [f"  {topic}: {path.name}, {result.rows[topic]:,} rows" for topic, path in result.files.items()]
    skipped = result.meta["skipped"]
    if skipped:
        lines.append(f"skipped {_plural(len(skipped), 'field')} that make no numeric column")
        if args.list_skipped:
            lines += [f"  {key}: {why}" for key, why in skipped.items()]
    return lines


def _run_lerobot(args: argparse.Namespace, files: list[str]) -> int:
    from simrec_node.convert.lerobot import export_lerobot
    from simrec_node.convert.lerobot_mapping import load_mapping_file, parse_map_flag

    if (
        args.topics
        or args.align
        or args.hz
        or args.split_episodes
        or args.compress
        or args.tile
        or args.keys != "full"
    ):
        raise UsageError(
            "-t, --align, --hz, --split-episodes, --compress, --tile and --keys do not apply to "
            "--format lerobot: name features with --map KEY=TOPIC or --mapping map.yaml"
        )
    mapping, settings = load_mapping_file(args.mapping) if args.mapping else ({}, {})
    mapping.update(parse_map_flag(text) for text in args.feature_map)
    stop = install_stop_handlers()
    bars: list[ProgressBar] = []
    done_before = [0]

    def progress(done: int, total: int) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        if not bars or done <= done_before[0]:  # a log's first episode: a bar of its own
            if bars:
                bars[-1].finish()
            what = f"writing frames of log {len(bars) + 1}" if len(files) > 1 else "writing frames"
            line = lambda d, t, what=what: f"{what}: {d:,.0f} of {t:,.0f}"  # noqa: E731
            bars.append(ProgressBar(what, total, plain=line, unit="frame", quiet=args.quiet))
        done_before[0] = done
        bars[-1].update(done)

    export = {
        "fps": args.fps if args.fps is not None else settings.get("fps"),
        "task": args.task if args.task is not None else settings.get("task"),
        "overwrite": args.overwrite,
        "vcodec": args.vcodec,
    }
    try:
        if args.ray or args.ray_address:
            result = lerobot_on_ray(args, files, mapping, export)
        else:
            result = export_lerobot(files, args.output, mapping, progress=progress, **export)
    finally:
        if bars:
            bars[-1].finish()
    for problem in result.problems:
        print(f"simrec: warning: {problem}", file=sys.stderr)
    for note in result.notes:  # what was left out is said even with --quiet
        print(f"simrec: note: {note}", file=sys.stderr)
    if not args.quiet:
        print(
            f"wrote {result.root}/: LeRobot v3.0, {_plural(result.episodes, 'episode')}, "
            f"{_plural(result.frames, 'frame')} at {result.fps} fps from {_plural(len(files), 'log')}"
        )
        for key, feature in result.features.items():
            print(f"  {key}: {feature['dtype']} {feature['shape']}")
    return 0


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def _run_mp4(args: argparse.Namespace, reader, progress) -> list[str]:
    if args.align or args.hz or args.split_episodes or args.time != "auto":
        raise UsageError("--align, --hz, --split-episodes and --time apply to .npz output, not video")
    if args.keys != "full":
        raise UsageError("--keys applies to .npz output, not video")
    if args.clips:
        return _run_clips(args, reader, progress)
    reader.check_window(args.start, args.end)
    options = Mp4Options(
        topics=tuple(args.topics),
        start=args.start,
        end=args.end,
        fps=args.fps,
        each_frame=args.each_frame,
        every=args.every,
        video_length=args.video_length,
        overlay=args.overlay,
        tile=args.tile,
        depth_range=tuple(args.depth_range) if args.depth_range else None,
    )
    videos = convert_to_mp4(reader, args.output, options, overwrite=args.overwrite, progress=progress)
    return ["wrote " + video.describe() for video in videos]


def _run_clips(args: argparse.Namespace, reader, progress) -> list[str]:
    given = [
        flag
        for flag, value in (
            ("--start", args.start),
            ("--end", args.end),
            ("--every", args.every != 1),
            ("--video-length", args.video_length),
            ("--tile", args.tile),
            ("--overlay", args.overlay),
            ("--each-frame", args.each_frame),
            ("--depth-range", args.depth_range),
        )
        if value not in (None, False)
    ]
    if given:
        verb = "does" if len(given) == 1 else "do"
        raise UsageError(f"--clips writes each recorded clip whole; {', '.join(given)} {verb} not apply")
    if args.output.lower().endswith(".mp4"):
        raise UsageError(f"--clips writes one file per clip into a directory: -o {args.output[:-4]}/")
    results = convert_clips(
        reader,
        args.output,
        topics=args.topics or None,
        fps=args.fps,
        overwrite=args.overwrite,
        progress=progress,
    )
    written = sum(1 for r in results if r.path)
    lines = [f"wrote {_plural(written, 'clip')} to {args.output}"]
    return lines + ["  " + result.describe() for result in results]


__all__ = ["ConvertError", "add_parser", "run"]
