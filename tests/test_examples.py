"""Every script in examples/ runs, writes a readable MCAP, and the commands it prints work.

Run in this process (runpy, the CLI's main), as a user would run them, without a Python start-up each.
"""

from __future__ import annotations

import runpy
import shlex

import pytest

from simrec_node.cli.main import main as simrec_main
from simrec_node.convert import open_log
from tests.conftest import REPO

EXAMPLES = {
    "gym_cartpole.py": ("cartpole.mcap", "gymnasium"),
    "gym_vector.py": ("cartpole_vector.mcap", "gymnasium"),
    "isaaclab_batched.py": ("isaaclab.mcap", "torch"),
    "genesis_data_func.py": ("genesis.mcap", None),
    "batched_torch_sim.py": ("batched.mcap", "torch"),
}


def test_every_example_is_tested():
    assert {p.name for p in (REPO / "examples").glob("*.py")} == set(EXAMPLES)


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(name, marks=[pytest.mark.torch] if needs == "torch" else [])
        for name, (_, needs) in EXAMPLES.items()
    ],
)
def test_example_runs_and_its_next_commands_work(script, tmp_path, monkeypatch, capsys):
    output, needs = EXAMPLES[script]
    if needs:
        pytest.importorskip(needs)
    if needs == "torch":
        pytest.importorskip("gymnasium")  # isaaclab_batched.py wraps its env with RecordRollout
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")  # render off-screen
    runpy.run_path(str(REPO / "examples" / script), run_name="__main__")
    printed = capsys.readouterr().out
    with open_log(tmp_path / output) as reader:
        assert reader.topics and all(info.count > 0 for info in reader.topics.values())
    commands = [line.strip() for line in printed.splitlines() if line.startswith("  ")]
    assert any(c.startswith("simrec convert") for c in commands), printed
    for command in commands:
        argv = shlex.split(command)
        if argv[0] == "simrec":
            assert simrec_main(argv[1:]) == 0, command
        else:
            assert argv[:2] == ["python", "-c"], command
            exec(argv[2], {})
    assert len(list(tmp_path.iterdir())) > 1  # the converted files are there
