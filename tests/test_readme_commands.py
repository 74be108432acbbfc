"""The README's two first-screen commands: what `.ci/run` runs verbatim, and what they may assume.

A new user's first hour starts with these two lines on a fresh machine; CI runs exactly them
(read out of README.md by .ci/readme_commands.py), so they are checked here against simrec.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shlex
import tomllib

import pytest

from simrec_node.cli.main import build_parser

from .conftest import REPO


def _readme_commands_module():
    spec = importlib.util.spec_from_file_location("readme_commands", REPO / ".ci" / "readme_commands.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_shows_the_demo_then_the_tests() -> None:
    commands = _readme_commands_module().readme_commands()
    assert commands["demo"].startswith("python3 -m pip install . && simrec demo --record demo.mcap")
    assert commands["tests"] == 'python3 -m pip install ".[test]" && python3 -m pytest -q'


def test_ci_runs_the_commands_it_reads_out_of_the_readme() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert "python3 -m venv" in ci
    assert '"$(python3 .ci/readme_commands.py demo)"' in ci
    assert '"$(python3 .ci/readme_commands.py tests)"' in ci
    assert 'bash -c "$demo"' in ci and 'run_tests "the README\'s test command" "$tests"' in ci
    assert "torch==2.13.0" in ci and "-m torch" in ci
    # npm's @mcap/core reader is installed before the tests that use it
    assert ci.index("npm install") < ci.index('run_tests "the README')


def test_the_demo_command_parses_and_may_replace_its_own_file() -> None:
    """Every simrec step of the first command parses, and its recording may replace demo.mcap."""
    demo = _readme_commands_module().readme_commands()["demo"]
    steps = [shlex.split(step) for step in demo.split("&&")]
    simrec_steps = [step[1:] for step in steps if step[0] == "simrec"]
    assert [step[0] for step in simrec_steps] == ["demo", "info"]
    for step in simrec_steps:
        build_parser().parse_args(step)  # an option the CLI does not have exits here
    assert "--overwrite" in simrec_steps[0]


def test_extraction_refuses_a_first_screen_without_exactly_two_commands() -> None:
    module = _readme_commands_module()
    one = "# x\n\n```bash\nsimrec demo\n```\n\n---\n\n```bash\nlater\n```\n"
    with pytest.raises(ValueError, match="two one-line fenced commands"):
        module.readme_commands(one)
    with pytest.raises(ValueError, match="first screen"):
        module.readme_commands("```bash\na\n```\n```bash\nb\n```\n")


def _optional_imports() -> set[str]:
    """Import names of the optional extras that the test extra does not install."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]

    def names(requirements: list[str]) -> set[str]:
        return {re.match(r"[A-Za-z0-9_.-]+", r).group().lower() for r in requirements}

    optional = set().union(*(names(reqs) for extra, reqs in extras.items() if extra != "test"))
    return {name.removesuffix("-sdk") for name in optional - names(extras["test"])}


def _module_level_imports(tree: ast.Module) -> set[str]:
    found, todo = set(), list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.If | ast.Try | ast.With):
            todo += node.body + getattr(node, "orelse", []) + getattr(node, "finalbody", [])
            todo += [stmt for handler in getattr(node, "handlers", []) for stmt in handler.body]
    return found


def test_no_test_module_imports_an_optional_extra_at_its_top() -> None:
    """The README's test command runs without torch: such imports go inside the test, through
    pytest.importorskip (and torch tests carry @pytest.mark.torch, which .ci/run runs after
    installing torch)."""
    optional = _optional_imports()
    assert "torch" in optional
    offenders = {
        path.name: sorted(_module_level_imports(ast.parse(path.read_text())) & optional)
        for path in sorted((REPO / "tests").rglob("*.py"))
        if "node_modules" not in path.parts
    }
    assert {name: found for name, found in offenders.items() if found} == {}
