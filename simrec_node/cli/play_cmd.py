"""``simrec play``: the habits of ``ros2 bag play``, onto the graph and/or to Foxglove.

Also ``simrec player pause|resume|seek T|rate R|next|status``: control running players.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading

from simrec_node.graph import InvalidNameError, Node, resolve_topic
from simrec_node.play import (
    CLOCK_TOPIC,
    ClockPublisher,
    ControlServer,
    GraphSink,
    KeyboardControl,
    LogSource,
    PlaybackClock,
    Player,
    PlayError,
    PlayRange,
    send_command,
)
from simrec_node.play.keyboard import HELP as KEYS_HELP
from simrec_node.record import TopicSelection

from .errors import UsageError
from .inputs import require_files, take_back_paths
from .serve_cmd import add_tls_arguments
from .signals import StopRequest, install_stop_handlers
from .status import ProgressBar


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    _add_play(subparsers)
    _add_player(subparsers)


_DEFAULT_CLOCK_HZ = "40"


def _add_play(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "play",
        help="play an MCAP log onto the graph (and/or to Foxglove with --serve)",
        description="Publish every recorded message on its topic with its type and recorded timing.",
    )
    parser.add_argument(
        "files",
        nargs="*",  # "+" would let --clock or --topics swallow the file: see _take_back_files
        metavar="FILE",
        help="the MCAP file, a directory of split files (run/run_0.mcap, ...), or several files",
    )
    parser.add_argument("-r", "--rate", type=_rate, default=1.0, help="speed factor (default 1.0)")
    parser.add_argument("-l", "--loop", action="store_true", help="start over at the end")
    parser.add_argument("--start-offset", type=_seconds, default=0.0, help="skip the first S seconds")
    parser.add_argument("--playback-duration", type=_seconds, help="play only S seconds of the log")
    parser.add_argument("-d", "--delay", type=_seconds, default=0.0, help="wait S seconds before playing")
    parser.add_argument(
        "--start-paused",
        action="store_true",
        help="start paused (space, `simrec player resume`, or the Foxglove timeline's play)",
    )
    parser.add_argument("--topics", nargs="+", default=[], metavar="TOPIC", help="play only these topics")
    parser.add_argument("-e", "--regex", help="play topics matching this regular expression")
    parser.add_argument("-x", "--exclude-regex", help="skip topics matching this regular expression")
    parser.add_argument(
        "-m",
        "--remap",
        action="append",
        default=[],
        metavar="OLD:=NEW",
        help="publish OLD as NEW (repeatable)",
    )
    parser.add_argument(
        "--clock",
        nargs="?",
        const=_DEFAULT_CLOCK_HZ,  # a string: _take_back_files checks it once a swallowed FILE is back
        metavar="HZ",
        help="publish the played time on /clock (40 Hz)",
    )
    parser.add_argument(
        "--wait-for-subscribers",
        type=_seconds,
        default=1.0,
        metavar="S",
        help="give subscribers up to S seconds to connect before playing (default 1)",
    )
    parser.add_argument(
        "--disable-keyboard-controls", action="store_true", help="ignore keys in the terminal"
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="serve the log to Foxglove and Lichtblick (plays at once unless --start-paused; "
        "the Foxglove app's timeline controls it)",
    )
    parser.add_argument("--port", type=int, default=8765, help="Foxglove server port (with --serve; 0: any)")
    parser.add_argument("--host", default="127.0.0.1", help="Foxglove server address (with --serve)")
    add_tls_arguments(parser)
    parser.add_argument("--no-graph", action="store_true", help="with --serve: do not publish onto the graph")
    parser.add_argument("--node-name", default="simrec_player", help="the player's node name")
    parser.add_argument("--domain", help="graph domain (default: $SIMREC_DOMAIN or 0)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run, default_node_name="simrec_player")


def _add_player(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "player",
        help="control running `simrec play` players: pause, resume, seek, rate, next, stop, status",
        description="Send a command to every player of the domain and print their state. A player "
        "paused at the end of its log waits for more commands until `stop` (or Ctrl-C).",
    )
    parser.add_argument(
        "command", choices=["pause", "resume", "toggle", "seek", "rate", "next", "stop", "status"]
    )
    parser.add_argument("value", nargs="?", help="seconds from the log start (seek) or speed factor (rate)")
    parser.add_argument("--domain", help="graph domain (default: $SIMREC_DOMAIN or 0)")
    parser.add_argument("--timeout", type=_seconds, default=2.0, help="seconds to wait for replies")
    parser.add_argument("--json", action="store_true", help="print each reply as one JSON line")
    parser.set_defaults(run=run_player)


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None


def _seconds(text: str) -> float:
    value = _number(text, "seconds")
    if value < 0:
        raise argparse.ArgumentTypeError(f"seconds must not be negative, got {text}")
    return value


def _rate(text: str) -> float:
    value = _number(text, "rate")
    if not 0.01 <= value <= 100:
        raise argparse.ArgumentTypeError(f"rate must be between 0.01 and 100, got {text}")
    return value


def _hz(text: str) -> float:
    value = _number(text, "clock rate")
    if not 0 < value <= 10_000:
        raise argparse.ArgumentTypeError(f"clock rate must be in (0, 10000] Hz, got {text}")
    return value


def parse_remaps(pairs: list[str]) -> dict[str, str]:
    """``OLD:=NEW`` pairs -> {resolved old: resolved new}; `PlayError` for a malformed one."""
    remaps = {}
    for pair in pairs:
        old, sep, new = pair.partition(":=")
        if not sep or not old or not new:
            raise PlayError(f"--remap {pair!r}: expected OLD:=NEW, e.g. /camera/rgb:=/cam0/rgb")
        try:
            remaps[resolve_topic(old)] = resolve_topic(new)
        except InvalidNameError as exc:
            raise PlayError(f"--remap {pair!r}: {exc}") from None
    return remaps


def _take_back_files(args: argparse.Namespace) -> None:
    """``play --clock FILE`` and ``play --topics /a FILE``: the FILE the option swallowed is the log."""
    if not args.files and args.clock is not None and os.path.exists(args.clock):
        args.files, args.clock = [args.clock], _DEFAULT_CLOCK_HZ
    if not args.files:
        args.topics, args.files = take_back_paths(args.topics)
    require_files(args.files, "simrec play run.mcap --clock")
    if args.clock is not None:
        try:
            args.clock = _hz(args.clock)
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"argument --clock: {exc}") from None


def run(args: argparse.Namespace) -> int:
    _take_back_files(args)
    remaps = parse_remaps(args.remap)
    try:
        topics = tuple(resolve_topic(t) for t in args.topics)
        selection = TopicSelection(topics, not (topics or args.regex), args.regex, args.exclude_regex)
    except (ValueError, InvalidNameError) as exc:
        raise UsageError(str(exc)) from None
    if args.no_graph and not args.serve:
        raise UsageError("--no-graph only makes sense with --serve")
    left_out: set[str] = set()

    def accepts(topic: str) -> bool:
        # One clock: with --clock the player's time is /clock, so a recorded /clock is not played
        # (as `ros2 bag play --clock` does since rosbag2 #1646).
        if args.clock is not None and remaps.get(topic, topic) == CLOCK_TOPIC:
            left_out.add(topic)
            return False
        return selection.accepts(topic)

    source = LogSource(args.files, accepts, lambda topic: remaps.get(topic, topic))
    if left_out:
        print(
            f"--clock: /clock carries the played log time at {args.clock:g} Hz; the recorded "
            f"{', '.join(sorted(left_out))} is not played (leave out --clock to replay it)",
            file=sys.stderr,
            flush=True,
        )
    try:
        return _play(args, source)
    finally:
        source.close()


def _play(args: argparse.Namespace, source: LogSource) -> int:
    for warning in source.warnings:
        print(f"simrec: warning: {source.path}: {warning}; playing what can be read", file=sys.stderr)
    start = min(source.start_ns + int(args.start_offset * 1e9), source.end_ns)
    if args.start_offset and start >= source.end_ns:
        raise PlayError(
            f"--start-offset {args.start_offset:g} is past the end of {source.path} "
            f"({(source.end_ns - source.start_ns) / 1e9:.3f} s long)"
        )
    end = source.end_ns
    if args.playback_duration is not None:
        end = min(end, start + int(args.playback_duration * 1e9))
    # --serve plays too: viewers without playback control (Lichtblick, Foxglove Studio 1.x) only
    # watch, and one with it (the Foxglove app's timeline) still pauses, seeks and sets the speed.
    clock = PlaybackClock(start, rate=args.rate, paused=args.start_paused)
    stop = install_stop_handlers()
    sinks: list = []
    closers: list = []
    node = None
    try:
        if args.serve:
            from simrec_node.live.playback import FoxglovePlayback

            server = FoxglovePlayback(
                list(source.channels.values()),
                clock,
                (start, end),
                host=args.host,
                port=args.port,
                tls_cert=args.tls_cert,
                tls_key=args.tls_key,
            )
            closers.append(server.close)
            sinks.append(server)
            print(
                f"serving {source.path} to Foxglove at {server.url} (open it in the app)",
                file=sys.stderr,
                flush=True,
            )
        if not args.no_graph:
            node_args = getattr(args, "node_args", None)  # --ros-args, where the CLI has them
            if node_args is not None and node_args.given:
                node = node_args.node(args.node_name, domain=args.domain)
            else:
                node = Node(args.node_name, domain=args.domain)
            closers.append(node.shutdown)
            graph = GraphSink(node, list(source.channels.values()))
            sinks.append(graph)
            control = ControlServer(node, clock, start, end)
            closers.append(control.close)
            if args.clock is not None:
                ClockPublisher(node, clock, args.clock)
            graph.wait_for_subscribers(args.wait_for_subscribers)
        if args.delay:
            stop.wait(args.delay)
        player = Player(source, clock, sinks, PlayRange(start, end, loop=args.loop, stay_open=args.serve))
        return _run_player(args, player, stop, start, end)
    finally:
        for close in reversed(closers):
            close()


def _run_player(args: argparse.Namespace, player: Player, stop: StopRequest, start: int, end: int) -> int:
    source, clock = player.source, player.clock
    keyboard = None
    if not args.disable_keyboard_controls and KeyboardControl.available():
        keyboard = KeyboardControl(clock)
        keyboard.start()
        if not args.quiet:
            print(KEYS_HELP, file=sys.stderr)
    print(
        f"playing {len(source.topics)} topic(s) of {source.path}: {', '.join(source.topics)}",
        file=sys.stderr,
        flush=True,
    )
    thread = threading.Thread(target=player.run, name="simrec-player", daemon=True)
    thread.start()
    bar = ProgressBar(
        f"playing {source.path}",
        max((end - start) / 1e9, 1e-3),
        unit="s",
        plain=lambda done, total: f"{done:8.3f} / {total:.3f} s",
        quiet=args.quiet,
        log_every_s=10.0,
    )
    try:
        while thread.is_alive() and not stop.wait(0.1):
            state = clock.state()
            label = "ENDED" if state.ended else "PAUSED" if state.paused else "PLAYING"
            bar.update((state.time_ns - start) / 1e9, f"{label} x{state.rate:.2f} {player.delivered:,} msgs")
    finally:
        clock.stop()
        thread.join(timeout=5)
        bar.finish()
        if keyboard is not None:
            keyboard.stop()
    loops = f" ({player.loops} loop(s))" if player.loops else ""
    print(f"played {player.delivered:,} messages{loops}", file=sys.stderr)
    if source.read_error:
        print(
            f"simrec: warning: {source.path}: {source.read_error}; the rest was not played", file=sys.stderr
        )
    return 0


def run_player(args: argparse.Namespace) -> int:
    command = args.command
    if command in ("seek", "rate"):
        if args.value is None:
            raise UsageError(f"simrec player {command} needs a value (seconds for seek, a factor for rate)")
        command = f"{command} {args.value}"
    with Node("simrec_player_ctl", domain=args.domain) as node:
        replies = send_command(node, command, args.timeout)
    if not replies:
        print(f"simrec: error: no player answered in domain {node.domain}", file=sys.stderr)
        return 1
    failed = False
    for reply in sorted(replies, key=lambda r: r.get("node", "")):
        if args.json:
            failed |= "error" in reply
            print(json.dumps(reply, sort_keys=True))
            continue
        if "error" in reply:
            print(f"simrec: error: {reply['node']}: {reply['error']}", file=sys.stderr)
            failed = True
            continue
        print(
            f"{reply['node']}: {reply['status']} at {reply['time_s']:.3f} / {reply['duration_s']:.3f} s, "
            f"x{reply['rate']:.2f}"
        )
    return 2 if failed else 0
