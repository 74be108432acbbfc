"""The live view's byte budget: small messages always pass, big ones share a rate."""

from __future__ import annotations

import time

import pytest

from simrec_node.live.budget import SMALL_BYTES, ByteBudget


def test_small_messages_always_pass() -> None:
    budget = ByteBudget(1.0)  # one byte a second
    assert all(budget.take(SMALL_BYTES - 1) for _ in range(10_000))


def test_big_messages_pass_at_the_rate_and_one_bigger_than_the_burst_still_passes() -> None:
    budget = ByteBudget(10e6)  # a first burst of 1 MB
    big = 200_000
    passed = sum(budget.take(big) for _ in range(100))
    assert 5 <= passed <= 6  # the burst, then next to nothing: hardly any time has passed
    time.sleep(0.05)  # 0.5 MB more (the burst caps what a late wake-up adds)
    assert 2 <= sum(budget.take(big) for _ in range(100)) <= 5
    huge = ByteBudget(1e6)  # a 100 kB burst, but a 5 MB message must not be refused forever
    time.sleep(0.2)
    assert not huge.take(5_000_000)
    huge._last -= 5.0  # as if five seconds had passed
    assert huge.take(5_000_000)


def test_a_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="> 0"):
        ByteBudget(0)
