"""Fixtures of the write-path tests."""

from tests.support.lanes import lane_behind  # noqa: F401 (a fixture: a gateway behind a fault-injecting proxy)
