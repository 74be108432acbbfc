"""Entry point of the ``simrec`` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from simrec_node.graph.node_args import ROS_ARGS, NodeArgs, parse_node_args
from simrec_node.version import __version__

from . import record_cmd
from .errors import UsageError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simrec", description="Record simulation runs to MCAP over a node graph."
    )
    parser.add_argument("--version", action="version", version=f"simrec {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module in _command_modules():
        module.add_parser(subparsers)
    return parser


def _command_modules() -> list:
    from . import (
        convert_cmd,
        demo_cmd,
        doctor_cmd,
        info_cmd,
        launch_cmd,
        layout_cmd,
        play_cmd,
        recorder_cmd,
        recover_cmd,
        router_cmd,
        serve_cmd,
        topic_cmd,
    )

    return [
        record_cmd,
        recorder_cmd,
        info_cmd,
        topic_cmd,
        demo_cmd,
        serve_cmd,
        layout_cmd,
        launch_cmd,
        play_cmd,
        convert_cmd,
        recover_cmd,
        doctor_cmd,
        router_cmd,
    ]


def command_names() -> set[str]:
    """The subcommands of this install (``simrec launch`` checks a node's ``exec`` against them)."""
    parser = build_parser()
    return {name for action in parser._subparsers._group_actions for name in action.choices}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="simrec: %(levelname)s: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    ros_argv = argv[argv.index(ROS_ARGS) :] if ROS_ARGS in argv else []
    args = build_parser().parse_args(argv[: len(argv) - len(ros_argv)])
    try:
        args.node_args = _node_args(args, ros_argv)
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of our output went away (``simrec info run.mcap | head``): stop quietly, as
        # cat does, and keep the interpreter from complaining while it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        if _is_user_error(exc):
            print(f"simrec: error: {exc}", file=sys.stderr)
            return 2
        raise


def _node_args(args: argparse.Namespace, ros_argv: list[str]) -> NodeArgs:
    """``--ros-args ...`` (name, namespace, parameters, remaps) for the commands that run a node."""
    default_name = getattr(args, "default_node_name", None)
    if ros_argv and default_name is None:
        raise UsageError("--ros-args is only for commands that run a node (demo, record, serve, play)")
    return parse_node_args(ros_argv, default_name)


def _is_user_error(exc: Exception) -> bool:
    """Errors that describe the user's input or machine, not a bug in simrec: every one derives from
    ``SimrecError``."""
    from simrec_node.errors import SimrecError

    return isinstance(exc, SimrecError)


if __name__ == "__main__":
    sys.exit(main())
