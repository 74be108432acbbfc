"""Entry point of the ``simrec`` command."""

from __future__ import annotations

import argparse
import logging
import sys

from simrec_node import __version__

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
    from . import demo_cmd, info_cmd, topic_cmd

    return [record_cmd, info_cmd, topic_cmd, demo_cmd]


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="simrec: %(levelname)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if _is_user_error(exc):
            print(f"simrec: error: {exc}", file=sys.stderr)
            return 2
        raise


def _is_user_error(exc: Exception) -> bool:
    """Errors that describe the user's input, not a bug in simrec."""
    from simrec_node.graph import ConfigError, InvalidNameError, ParameterError
    from simrec_node.info import LogFileError
    from simrec_node.record import OutputError

    return isinstance(
        exc, UsageError | OutputError | LogFileError | InvalidNameError | ConfigError | ParameterError
    )


if __name__ == "__main__":
    sys.exit(main())
