"""``simrec topic list|echo|hz|info`` against a real publisher process."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import publisher_command, simrec_command, start_process, wait_for_line


@pytest.fixture
def custom_publisher(domain: str):
    """A publisher of a type the CLI has no code for, at 50 Hz for up to 30 s."""
    process = start_process(
        publisher_command(
            "--topic", "/robot/custom", "--type", "custom", "--count", "1500", "--rate", "50", "--no-wait"
        ),
        domain,
    )
    wait_for_line(process.stdout, "ready")
    yield process
    process.kill()
    process.wait()


def run_simrec(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(simrec_command(*args), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result


def test_list_shows_topics_and_types(domain: str, custom_publisher) -> None:
    assert "/robot/custom" in run_simrec("topic", "list").stdout.splitlines()
    assert "/robot/custom [test.Custom]" in run_simrec("topic", "list", "-t").stdout


def test_echo_decodes_a_type_with_no_generated_code(domain: str, custom_publisher) -> None:
    out = run_simrec("topic", "echo", "/robot/custom", "-n", "2").stdout
    blocks = [b for b in out.split("---") if b.strip()]
    assert len(blocks) == 2
    assert all("values: [" in b for b in blocks)
    first, second = (float(b.split("values: [")[1].split("]")[0]) for b in blocks)
    assert second == first + 1


def test_hz_measures_the_rate(domain: str, custom_publisher) -> None:
    out = run_simrec("topic", "hz", "/robot/custom", "--duration", "3").stdout
    rates = [float(line.split(":")[1]) for line in out.splitlines() if line.startswith("average rate")]
    assert rates, out
    assert 25 < rates[-1] < 100  # 50 Hz publisher, loose bounds for a busy machine


def test_info_counts_publishers(domain: str, custom_publisher) -> None:
    out = run_simrec("topic", "info", "/robot/custom").stdout
    assert "Type: test.Custom" in out
    assert "Publisher count: 1" in out
