"""The Foundry setup of `make forge-test` stays offline, pinned and out of the shipped contracts' way."""

from __future__ import annotations

import json
import re
import tomllib

from creditshare.devtools import compiler
from creditshare.devtools.checkout import project_root

FORGE = "@foundry-rs/forge-linux-amd64"


def test_forge_pinned_exactly_in_package_json_and_lock() -> None:
    root = project_root()
    package = json.loads((root / "package.json").read_text())
    lock = json.loads((root / "package-lock.json").read_text())
    assert package["dependencies"][FORGE] == "1.7.1"
    assert lock["packages"][f"node_modules/{FORGE}"]["version"] == "1.7.1"
    assert lock["packages"][f"node_modules/{FORGE}"]["integrity"].startswith("sha512-")


def test_foundry_toml_compiles_like_the_shipped_artifacts_offline() -> None:
    root = project_root()
    profile = tomllib.loads((root / "foundry.toml").read_text())["profile"]["default"]
    assert profile["offline"] is True
    assert profile["auto_detect_solc"] is False
    assert (root / profile["solc"]).resolve() == compiler.standin().resolve()
    assert (profile["src"], profile["test"]) == ("contracts", "tests/forge")
    assert profile["out"].startswith("build/") and profile["cache_path"].startswith("build/")  # git-ignored
    settings = compiler.compiler_settings()
    assert profile["evm_version"] == settings["evmVersion"] == compiler.EVM_VERSION
    assert profile["via_ir"] is settings["viaIR"] is True
    assert profile["optimizer_runs"] == settings["optimizer"]["runs"]
    assert profile["bytecode_hash"] == settings["metadata"]["bytecodeHash"]
    invariant = profile["invariant"]
    assert invariant["runs"] >= 256 and invariant["depth"] >= 64


def test_forge_tests_stay_out_of_contracts_and_declare_their_cheatcodes() -> None:
    root = project_root()
    assert not list((root / "contracts").rglob("*.t.sol"))
    forge_tests = sorted((root / "tests" / "forge").glob("*.t.sol"))
    assert forge_tests
    for path in forge_tests:
        assert "forge-std" not in path.read_text()  # not available offline: tests/forge/Vm.sol instead
    assert re.search(r"interface Vm \{", (root / "tests" / "forge" / "Vm.sol").read_text())
