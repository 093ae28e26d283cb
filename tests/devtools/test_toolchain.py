"""The offline toolchain: pinned versions agree everywhere and the shipped artifacts match the sources."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from creditshare.chain.artifacts import CONTRACTS, load_artifact
from creditshare.devtools import compiler
from creditshare.devtools.checkout import project_root


@pytest.mark.slow
def test_artifacts_match_fresh_compile() -> None:
    assert compiler.check_artifacts() == []


def test_every_decoded_contract_is_shipped() -> None:
    assert set(CONTRACTS) == set(compiler.SHIPPED_CONTRACTS)


def test_solc_version_pinned_identically_everywhere() -> None:
    root = project_root()
    package = json.loads((root / "package.json").read_text())
    lock = json.loads((root / "package-lock.json").read_text())
    brownie = yaml.safe_load((root / "brownie-config.yaml").read_text())
    assert package["dependencies"]["solc"] == compiler.SOLC_VERSION
    assert lock["packages"]["node_modules/solc"]["version"] == compiler.SOLC_VERSION
    assert str(brownie["compiler"]["solc"]["version"]) == compiler.SOLC_VERSION
    for name in CONTRACTS:
        assert load_artifact(name).compiler["version"].startswith(compiler.SOLC_VERSION + "+commit.")


def test_ganache_pinned_to_7_9() -> None:
    lock = json.loads((project_root() / "package-lock.json").read_text())
    assert re.fullmatch(r"7\.9\.\d+", lock["packages"]["node_modules/ganache"]["version"])


def test_artifacts_target_a_permissioned_chain_evm() -> None:
    for name in CONTRACTS:
        settings = load_artifact(name).compiler["settings"]
        assert settings["evmVersion"] in {"paris", "shanghai"}
        assert settings["optimizer"]["enabled"] is True
    brownie = yaml.safe_load((project_root() / "brownie-config.yaml").read_text())
    assert brownie["compiler"]["evm_version"] == compiler.EVM_VERSION


def test_standin_answers_version_like_solc() -> None:
    import solcx

    version = solcx.wrapper.get_solc_version(compiler.standin())
    assert str(version) == compiler.SOLC_VERSION
