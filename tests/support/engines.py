"""Running chain-facing tests on every dev chain engine."""

from __future__ import annotations

import pytest

from creditshare.devtools.devchain import ENGINES

#: Mark a module (`pytestmark = on_every_engine`) or a test to run it on each engine (Ganache and anvil): the
#: root conftest's `devchain` (and with it `w3` and `consortium`) is then that engine's node.
on_every_engine = pytest.mark.parametrize("devchain", list(ENGINES), indirect=True)
