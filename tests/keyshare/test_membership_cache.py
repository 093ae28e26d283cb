"""The holder's membership cache: a steady caller never waits for the chain, a suspension lands within the ttl,
and a chain outage falls back to recent answers only. The registry behind it is a recording function here: the
cache is what is tested (the real registry path is tests/keyshare/test_threshold_service.py)."""

from __future__ import annotations

import threading
import time

import pytest

from creditshare.core.exceptions import ChainUnavailable
from creditshare.keyshare.holder import CachedMembership


class Registry:
    def __init__(self) -> None:
        self.active = True
        self.down = False
        self.reads = 0
        self.read_done = threading.Event()

    def __call__(self, address: str) -> bool:
        self.reads += 1
        self.read_done.set()
        if self.down:
            raise ChainUnavailable("node down")
        return self.active


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wait_read(registry: Registry, reads: int) -> None:
    deadline = time.monotonic() + 5
    while registry.reads < reads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert registry.reads >= reads


def test_refreshes_ahead_in_the_background_and_sees_a_suspension_within_the_ttl() -> None:
    registry, clock = Registry(), Clock()
    cache = CachedMembership(registry, ttl=10, clock=clock)
    assert cache("0xa") is True and registry.reads == 1
    clock.now += 4
    assert cache("0xa") is True and registry.reads == 1  # fresh: no read
    registry.active = False  # suspended on chain
    clock.now += 2  # past half the ttl: answered from the cache, refreshed behind the caller's back
    assert cache("0xa") is True
    wait_read(registry, 2)
    time.sleep(0.05)
    assert cache("0xa") is False  # the background read landed, well within the ttl of the suspension


def test_chain_outage_keeps_recent_answers_only() -> None:
    registry, clock = Registry(), Clock()
    cache = CachedMembership(registry, ttl=5, stale=60, clock=clock)
    assert cache("0xa") is True
    registry.down = True
    clock.now += 30
    assert cache("0xa") is True  # 30 s old, the chain is away: the last answer stands
    clock.now += 40
    with pytest.raises(ChainUnavailable):
        cache("0xa")  # 70 s old: too old to stand in
    with pytest.raises(ChainUnavailable):
        cache("0xnever-seen")
