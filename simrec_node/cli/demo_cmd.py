"""``simrec demo``: run the numpy cart-pole demo node, and optionally record it in-process.

``simrec demo --record demo.mcap --duration 10`` is the one-command tour: a simulation, a
graph and a recorder in one process, and an MCAP file to open in Foxglove at the end.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from typing import TYPE_CHECKING

from simrec_node.graph.node_args import NodeArgs

from .errors import UsageError
from .numbers import non_negative_float, positive_float, positive_int
from .recording_report import recording_status, replacing_note, report_recording
from .signals import install_stop_handlers
from .status import StatusLine

if TYPE_CHECKING:
    from simrec_node.demo import DemoSim
    from simrec_node.record import RecorderNode

_DRAIN_TIMEOUT_S = 3.0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run a demo simulation (cart-poles, cameras, 3D scene) and optionally record it",
        description=(
            "Run a batch of cart-poles in real time on the graph: /sim/state tensors, /clock, "
            "/sim/reward, /tf, /sim/scene and camera images. With --record the same process "
            "records every topic to MCAP. Ctrl-C (or SIGTERM) stops cleanly."
        ),
    )
    parser.add_argument("--envs", type=positive_int, help="number of environments (default 16)")
    parser.add_argument("--rate", type=positive_float, metavar="HZ", help="simulation steps/s (default 100)")
    parser.add_argument(
        "--camera-rate",
        type=non_negative_float,
        metavar="HZ",
        help="camera frames/s, 0 = no cameras (default 30)",
    )
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument("--duration", type=positive_float, metavar="S", help="stop after this many seconds")
    parser.add_argument("--namespace", default="/", help="namespace of the demo's topics (default /)")
    parser.add_argument("--domain", help="graph domain (default: $SIMREC_DOMAIN or 0)")
    parser.add_argument("--record", metavar="FILE", help="also record every topic to this MCAP file")
    parser.add_argument("--overwrite", action="store_true", help="replace the --record file if it exists")
    parser.add_argument("-q", "--quiet", action="store_true", help="no status line")
    parser.set_defaults(run=run, default_node_name="demo_sim")


def run(args: argparse.Namespace) -> int:
    # Imported here so that `simrec record` and friends do not pay for numpy and the demo.
    from simrec_node.demo import DemoSim
    from simrec_node.record import prepare_output

    if args.overwrite and not args.record:
        raise UsageError("--overwrite only makes sense with --record FILE")
    output = prepare_output(args.record, overwrite=args.overwrite) if args.record else None
    replacing = replacing_note(output) if output is not None else None
    node_args = getattr(args, "node_args", None) or NodeArgs()
    overrides = node_args.parameter_overrides | {
        name: value
        for name, value in (
            ("num_envs", args.envs),
            ("rate_hz", args.rate),
            ("camera_rate_hz", args.camera_rate),
            ("depth_rate_hz", 0.0 if args.camera_rate == 0 else None),
            ("seed", args.seed),
        )
        if value is not None
    }
    stop = install_stop_handlers()
    demo = DemoSim(
        node_args.namespace or args.namespace,
        name=node_args.name,
        domain=args.domain,
        parameter_overrides=overrides,
        remaps=node_args.remaps,
    )
    recorder = None
    try:
        if output is not None:
            recorder = _start_recorder(output, args.domain)
        demo.start()
    except BaseException:
        demo.stop()
        if recorder is not None:
            recorder.stop()
        raise
    _announce(demo, output, replacing)
    status = StatusLine(quiet=args.quiet)
    started = time.monotonic()
    try:
        while True:
            elapsed = time.monotonic() - started
            left = None if args.duration is None else max(0.0, args.duration - elapsed)
            if stop.wait(0.5 if left is None else min(0.5, left)):
                break
            elapsed = time.monotonic() - started
            status.update(_status_text(demo, recorder, elapsed))
            if recorder is not None and recorder.write_error is not None:
                break
            if args.duration is not None and elapsed >= args.duration:
                break
    finally:
        status.finish()
        demo.stop()
        published = demo.published()
        if recorder is not None:
            _wait_for_delivery(recorder, published)
            recorder.stop()
    elapsed = time.monotonic() - started
    print(
        f"demo_sim: {demo.sim.step_count:,} steps of {demo.num_envs} envs in {elapsed:.1f} s, "
        f"{demo.sim.episodes_finished:,} episodes finished ({demo.sim.falls:,} falls), "
        f"{sum(published.values()):,} messages published",
        file=sys.stderr,
    )
    if recorder is None:
        return 0
    return report_recording(recorder, output, demo.node.domain)


def _start_recorder(output, domain: str | None) -> RecorderNode:
    """A recorder of every topic, in this process: started before the demo publishes."""
    from simrec_node.record import RecorderNode, RecordOptions, TopicSelection

    if output.exists():  # prepare_output allowed it: --overwrite
        output.unlink()
    options = RecordOptions(
        output=output,
        selection=TopicSelection(all=True),
        domain=domain,
        command_line=shlex.join(["simrec", *sys.argv[1:]]),
    )
    recorder = RecorderNode(options)
    recorder.start()
    return recorder


def _announce(demo: DemoSim, output: object, replacing: str | None) -> None:
    topics = ", ".join(sorted(demo.published()))
    cameras = f"camera {demo.camera_rate_hz:g} Hz" if demo.rgb_pub is not None else "no camera"
    print(
        f"demo_sim: {demo.num_envs} envs at {demo.rate_hz:g} Hz, {cameras}, domain {demo.node.domain}; "
        f"publishing {topics}",
        file=sys.stderr,
        flush=True,
    )
    if replacing is not None:
        print(replacing, file=sys.stderr, flush=True)
    if output is not None:
        print(f"recording all topics to {output}", file=sys.stderr, flush=True)


def _status_text(demo: DemoSim, recorder: RecorderNode | None, elapsed: float) -> str:
    sim = demo.sim
    text = f"sim {sim.sim_time:7.1f} s  step {sim.step_count:,}  episodes {sim.episodes_finished:,}"
    if recorder is None:
        return f"{elapsed:7.1f} s  {text}"
    return f"{recording_status(recorder, elapsed)}  |  {text}"


def _wait_for_delivery(recorder: RecorderNode, published: dict[str, int]) -> None:
    """Give what the demo sent time to reach the recorder before the file is closed."""
    deadline = time.monotonic() + _DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        topics = recorder.stats.topics
        if all(
            (stats := topics.get(topic)) is not None and stats.received + stats.gap_dropped >= count
            for topic, count in published.items()
            if count
        ):
            return
        time.sleep(0.01)
