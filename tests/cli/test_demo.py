"""What `creditshare demo` prints once the consortium is up (cli/demo.print_tour), as an 80-column terminal shows it.
The whole demo end to end is tests/devtools/test_demo.py."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from creditshare.cli import demo as demo_cli
from creditshare.devtools import demo as demo_net
from creditshare.devtools.devchain import free_port
from tests.support import Consortium


def test_print_tour_at_80_columns_prints_every_api_key_whole(
    tmp_path: Path, consortium: Consortium, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table once cut the keys short at 80 columns (lender 3's never appeared whole): each key is on a line of its
    own, unbroken, and so is the file it is in."""
    rpc_url = str(consortium.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    lenders = demo_net.prepare_gateways(tmp_path, rpc_url, consortium.deployment, first_port=free_port())
    screen = io.StringIO()
    monkeypatch.setattr(demo_cli, "console", Console(file=screen, width=80, color_system=None))

    demo_cli.print_tour(lenders, demo_net.tour_record(lenders[0]), {})

    lines = screen.getvalue().splitlines()
    for lender in lenders:
        key = lender.key_file.read_text().strip()
        assert key.startswith("csk_") and len(key) > 40, key  # a real key, as the gateway issued it
        assert any(line.split() == ["API", "key", key] for line in lines), lines
        assert any(str(lender.key_file) in line for line in lines), lines
