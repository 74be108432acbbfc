"""Launch files (ROS 2 YAML launch layout): args, substitutions, nodes, groups, includes, supervision."""

from .actions import ArgDecl, LaunchPlan, NodeSettings, ProcessAction
from .errors import LaunchError
from .parser import SIMREC_NODES, declared_args, load_launch, parse_cli_args
from .printing import OutputPrinter, format_args, format_plan
from .supervisor import Supervisor

__all__ = [
    "SIMREC_NODES",
    "ArgDecl",
    "LaunchError",
    "LaunchPlan",
    "NodeSettings",
    "OutputPrinter",
    "ProcessAction",
    "Supervisor",
    "declared_args",
    "format_args",
    "format_plan",
    "load_launch",
    "parse_cli_args",
]
