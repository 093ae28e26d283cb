"""Keeps Brownie's tests and the main suite apart; tests/conftest.py imports `pytest_ignore_collect` from here.

- Main `pytest` run (pyproject.toml: `-p no:pytest-brownie`, so Brownie's plugin is not active): tests/brownie is
  not collected. Those tests need the plugin's fixtures and its Ganache; the main suite has its own chain.
- Brownie's plugin active (`brownie test`, which runs pytest with tests/brownie/pytest.ini): only tests/brownie is
  collected, even when a wider path is given.
"""

from __future__ import annotations

from pathlib import Path

import pytest

BROWNIE_TESTS = Path(__file__).resolve().parent / "brownie"


def brownie_plugin_active(config: pytest.Config) -> bool:
    """True when Brownie's pytest plugin has loaded the project (it registers "brownie-core" in pytest_configure)."""
    return config.pluginmanager.has_plugin("brownie-core")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    path = collection_path.resolve()
    in_brownie_tests = path == BROWNIE_TESTS or BROWNIE_TESTS in path.parents
    if brownie_plugin_active(config):
        on_the_way = path in BROWNIE_TESTS.parents
        return None if in_brownie_tests or on_the_way else True
    return True if in_brownie_tests else None
