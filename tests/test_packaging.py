"""The gateway runs from a built wheel, without the checkout: artifacts, the report policy and the migrations are
package data, and only developer tooling asks for the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Run in a fresh interpreter whose only `creditshare` is the unpacked wheel, from a folder that is no checkout.
PROBE = """
import json, sys
from pathlib import Path
import creditshare
from creditshare.chain.artifacts import CONTRACTS, load_artifact
from creditshare.core.db import make_engine
from creditshare.core.db.schema import current_revision, head_revision
from creditshare.core.exceptions import ToolchainError
from creditshare.domain.report import Policy
from creditshare.api.openapi import openapi_schema
from creditshare.devtools.checkout import project_root

engine = make_engine("sqlite:///" + sys.argv[1])
try:
    project_root()
    checkout = "found"
except ToolchainError as exc:
    checkout = str(exc)
print(json.dumps({
    "package": creditshare.__file__,
    "artifacts": [len(load_artifact(name).abi) for name in CONTRACTS],
    "policy": Policy.load().version,
    "schema": [current_revision(engine), head_revision()],
    "openapi_paths": sorted(openapi_schema()["paths"]),
    "checkout": checkout,
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built from a copy of the sources (so the checkout gets no build/ or egg-info)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("creditshare-*.whl")
    return built


def test_wheel_ships_the_package_data_the_gateway_reads(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "creditshare/artifacts/ConsortiumRegistry.json",
        "creditshare/artifacts/CreditLedger.json",
        "creditshare/artifacts/KeyShareDirectory.json",
        "creditshare/data/policy.json",
        "creditshare/core/db/migrations/env.py",
        "creditshare/core/db/migrations/script.py.mako",
        "creditshare/core/db/migrations/versions/0001_baseline.py",
        "creditshare/py.typed",
    }
    assert expected <= names, sorted(expected - names)
    assert not [n for n in names if n.startswith(("tests/", "contracts/", "benchmarks/"))]


def test_installed_wheel_runs_without_the_checkout(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITSHARE_") and k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(elsewhere / "gateway.db")],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(facts["package"]).is_relative_to(site), facts["package"]
    assert len(facts["artifacts"]) == 3 and all(count > 10 for count in facts["artifacts"])
    assert facts["policy"]
    current, head = facts["schema"]
    assert current == head and head
    assert "/v1/reports" in facts["openapi_paths"]
    assert "needs a checkout" in facts["checkout"]
