"""Reading launch files: args, substitutions, conditions, groups, includes, ``--print`` and errors.

Nothing here starts a process: a launch file is fully checked before anything runs, which
is also what the error tests show (a marker command placed before the mistake never runs).
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from simrec_node.cli.main import main
from simrec_node.graph.node_args import parse_node_args
from simrec_node.launch import LaunchError, declared_args, load_launch

FILES = Path(__file__).resolve().parent / "launch_files"
PY = sys.executable


def test_features_resolve() -> None:
    plan = load_launch(FILES / "features.launch.yaml", {"py": PY})
    by_name = {p.name: p for p in plan.processes}
    assert list(by_name) == ["always", "no_extra", "sim", "child_from-parent"]
    assert by_name["always"].cmd == [PY, "-c", "print('always')"]
    assert by_name["always"].env == {"GREETING": f"hello {PY}"}
    assert by_name["child_from-parent"].cwd == str(FILES)
    assert plan.values == {"py": PY, "with_extra": "false"}

    sim = by_name["sim"]
    assert sim.cmd[:4] == [PY, "-m", "simrec_node.cli.main", "demo"]
    assert sim.node.namespace == "/robot1/arm/sub"  # group + push-ros-namespace + relative node namespace
    assert sim.node.params == [("num_envs", "4"), ("gains", "[1, 2.5]")]
    assert sim.node.remaps == [("sim/state", "/state")]
    # what the node process will see, through the one --ros-args convention
    node_args = parse_node_args(sim.cmd, "demo_sim")
    assert node_args.name == "sim"
    assert node_args.namespace == "/robot1/arm/sub"
    assert node_args.parameter_overrides == {"seed": 3, "rate_hz": 50.0, "num_envs": "4", "gains": [1, 2.5]}
    assert node_args.remap_topic("sim/state", "demo_sim") == "/state"


def test_args_declared_in_included_files_are_accepted() -> None:
    plan = load_launch(FILES / "features.launch.yaml", {"py": PY, "label": "ignored-by-include-arg"})
    assert "child_from-parent" in [p.name for p in plan.processes]  # the include's own arg list wins


def test_conditions_follow_args() -> None:
    plan = load_launch(FILES / "features.launch.yaml", {"py": PY, "with_extra": "1"})
    names = [p.name for p in plan.processes]
    assert "extra" in names
    assert "no_extra" not in names


def test_show_args_lists_declarations(capsys: pytest.CaptureFixture[str]) -> None:
    assert [d.name for d in declared_args(FILES / "features.launch.yaml")] == ["py", "with_extra"]
    assert main(["launch", "--show-args", str(FILES / "features.launch.yaml")]) == 0
    out = capsys.readouterr().out
    assert "py (required)" in out
    assert "with_extra (default: 'false')" in out
    assert "start the extra process" in out


def test_print_shows_commands_params_and_remaps(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["launch", "--print", "--domain", "d1", str(FILES / "features.launch.yaml"), f"py:={PY}"]) == 0
    )
    out = capsys.readouterr().out
    assert out.count("env: SIMREC_DOMAIN=d1") == 4  # --domain reaches every process
    assert "[sim] node" in out
    assert "namespace: /robot1/arm/sub" in out
    assert "param: num_envs = 4" in out
    assert "remap: sim/state -> /state" in out
    assert f"params file: {FILES / 'params.yaml'}" in out
    assert "__ns:=/robot1/arm/sub" in out
    assert "[child_from-parent] executable" in out


def test_shipped_launch_files_resolve(capsys: pytest.CaptureFixture[str]) -> None:
    repo = FILES.parents[1]
    for name in ("demo.launch.yaml", "record.launch.yaml"):
        assert main(["launch", "--print", str(repo / "launch" / name)]) == 0
    out = capsys.readouterr().out
    assert "[demo_sim] node" in out
    assert "[recorder] node" in out
    assert "foxglove_bridge" not in out  # behind serve:=false


def _write(tmp_path: Path, text: str, name: str = "bad.launch.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


# Each starts with an executable that would create a marker file if anything were started.
_PREFIX = """\
launch:
  - executable: {cmd: "touch MARKER"}
"""


@pytest.mark.parametrize(
    ("body", "args", "expected"),
    [
        ("  - nod: {exec: demo}\n", [], ":3: unknown action 'nod'"),
        ("  - node:\n      exec: demo\n      parm: []\n", [], ":5: unknown key 'parm' in 'node'"),
        ("  - node: {exec: demo, remap: [{from: a, too: b}]}\n", [], ":3: unknown key 'too' in 'remap'"),
        ("  - node: {exec: demo\n", [], ":4:1: YAML syntax error"),
        ("  - include: {file: nowhere.launch.yaml}\n", [], "included launch file"),
        ("  - node: {exec: nosuch}\n", [], "unknown simrec node exec 'nosuch'"),
        (
            "  - node: {module: no_such_module_xyz.node}\n",
            [],
            "Python module 'no_such_module_xyz.node' not found",
        ),
        (
            "  - executable: {cmd: no_such_program_xyz --flag}\n",
            [],
            "command 'no_such_program_xyz' not found",
        ),
        ("  - executable: {cmd: 'echo $(var nope)'}\n", [], "undefined variable 'nope'"),
        ("  - executable: {cmd: 'echo $(bogus x)'}\n", [], "unknown substitution '$(bogus x)'"),
        ("  - executable: {cmd: 'echo $(var x'}\n", [], "unterminated substitution"),
        ("  - executable: {cmd: echo, if: maybe}\n", [], "'if' must be true, false, 1 or 0"),
        ("  - executable: {cmd: echo, output: loud}\n", [], "output must be 'screen' or 'log'"),
        ("  - arg: {name: a}\n  - arg: {name: b, default: x}\n", [], "missing required argument(s) a"),
        ("  - arg: {name: a, default: x}\n", ["b:=1"], "unknown argument(s) b (declared: a)"),
        (
            "  - group:\n      children:\n        - let: {name: inner, value: x}\n"
            "  - executable: {cmd: 'echo $(var inner)'}\n",
            [],
            "undefined variable 'inner'",
        ),
        ("  - node: {exec: demo, name: 'bad name'}\n", [], "invalid node name"),
    ],
)
def test_bad_input_is_one_line_and_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], body, args, expected
) -> None:
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, _PREFIX + body)
    assert main(["launch", str(path), *args]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("simrec: error: ")
    assert expected in lines[0]
    assert "started" not in captured.out
    assert not (tmp_path / "MARKER").exists()


def test_errors_name_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, _PREFIX + "  - node: {exec: demo, remap: [{from: a, too: b}]}\n")
    with pytest.raises(LaunchError) as info:
        load_launch(path)
    assert str(info.value).startswith(f"{path}:3: ")


def test_missing_required_arg_lists_the_args(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        launch:
          - arg: {name: output, description: where to write}
          - arg: {name: envs, default: 4}
        """,
    )
    with pytest.raises(LaunchError) as info:
        load_launch(path)
    message = str(info.value)
    assert "pass output:=VALUE" in message
    assert "output (required): where to write" in message
    assert "envs (default '4')" in message


def test_include_cycle_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "launch:\n  - include: {file: loop.launch.yaml}\n", "loop.launch.yaml")
    with pytest.raises(LaunchError, match="includes itself"):
        load_launch(path)


def test_missing_launch_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["launch", str(tmp_path / "none.launch.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_ros_args_rejected_for_commands_without_a_node(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "x.mcap", "--ros-args", "-p", "a:=1"]) == 2
    assert "--ros-args is only for commands that run a node" in capsys.readouterr().err
