"""``simrec launch FILE [name:=value ...]``: the habits of ``ros2 launch`` for simrec nodes."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from simrec_node.launch import (
    OutputPrinter,
    Supervisor,
    declared_args,
    format_args,
    format_plan,
    load_launch,
    parse_cli_args,
)

from .errors import UsageError
from .numbers import non_negative_float


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "launch",
        help="start the nodes and programs of a YAML launch file and supervise them",
        description=(
            "Run a launch file (ROS 2 YAML layout: a top-level 'launch:' list of arg, let, node, "
            "executable, group and include actions). Every line a process prints is prefixed with "
            "its name. Ctrl-C (or SIGTERM) sends one SIGINT to each process, waits for them, then "
            "escalates to SIGTERM and SIGKILL."
        ),
    )
    parser.add_argument("file", help="the launch file (YAML)")
    parser.add_argument("arguments", nargs="*", metavar="NAME:=VALUE", help="values for the file's args")
    parser.add_argument(
        "-p",
        "--print",
        action="store_true",
        dest="print_plan",
        help="print what would run (commands, params, remaps) and exit",
    )
    parser.add_argument(
        "-s", "--show-args", action="store_true", help="print the file's arguments with defaults and exit"
    )
    parser.add_argument(
        "--sigterm-timeout",
        type=non_negative_float,
        default=5.0,
        metavar="S",
        help="seconds after SIGINT before SIGTERM is sent (default 5)",
    )
    parser.add_argument(
        "--sigkill-timeout",
        type=non_negative_float,
        default=5.0,
        metavar="S",
        help="seconds after SIGTERM before SIGKILL is sent (default 5)",
    )
    parser.add_argument("--domain", help="graph domain for every process (sets SIMREC_DOMAIN)")
    parser.add_argument(
        "--log-dir",
        metavar="DIR",
        help="where processes with 'output: log' write (default ~/.simrec/log/launch_<date>-<time>)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if args.show_args:
        print(format_args(path, declared_args(path)))
        return 0
    from .main import command_names

    plan = load_launch(path, parse_cli_args(args.arguments), simrec_commands=command_names())
    if args.domain is not None:
        from simrec_node.graph.names import validate_domain

        validate_domain(args.domain)
        for process in plan.processes:
            process.env.setdefault("SIMREC_DOMAIN", args.domain)
    if args.print_plan:
        print(format_plan(plan))
        return 0
    if not plan.processes:
        raise UsageError(f"{path}: nothing to launch (no node or executable action is enabled)")
    log_dir = Path(args.log_dir) if args.log_dir else _default_log_dir()
    printer = OutputPrinter(sys.stdout, colour=sys.stdout.isatty())
    supervisor = Supervisor(
        plan.processes,
        printer,
        sigterm_timeout=args.sigterm_timeout,
        sigkill_timeout=args.sigkill_timeout,
        log_dir=log_dir,
    )
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: supervisor.request_stop())
    return supervisor.run()


def _default_log_dir() -> Path:
    return Path.home() / ".simrec" / "log" / time.strftime("launch_%Y%m%d-%H%M%S")
