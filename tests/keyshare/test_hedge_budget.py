"""`HedgeBudget`: hedged key-share requests stay a small share of rounds, however slow every round gets."""

from __future__ import annotations

from creditshare.keyshare.client import HedgeBudget


def test_hedges_are_capped_at_the_burst_then_earned_back_at_the_rate() -> None:
    budget = HedgeBudget(rate=0.1, burst=2)
    assert [budget.spend() for _ in range(3)] == [True, True, False]  # the saved-up burst, then nothing
    for _ in range(9):
        budget.earn()
    assert not budget.spend()  # 0.9 of a hedge is not one
    budget.earn()
    assert budget.spend() and not budget.spend()


def test_when_every_round_is_slow_at_most_about_a_tenth_are_hedged() -> None:
    budget = HedgeBudget()
    hedged = 0
    for _ in range(1_000):  # every round would hedge if it could
        budget.earn()
        hedged += budget.spend()
    assert 100 <= hedged <= 100 + 10  # the rate, plus the initial burst
