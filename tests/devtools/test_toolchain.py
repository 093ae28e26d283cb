"""The offline toolchain: pinned versions agree everywhere and the shipped artifacts match the sources."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path

import yaml

from creditshare.chain.artifacts import CONTRACTS, load_artifact
from creditshare.devtools import compiler
from creditshare.devtools.checkout import project_root


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


def _standin(standard_json: str, **env: str) -> dict[str, object]:
    result = subprocess.run(
        ["node", str(compiler.standin()), "--standard-json"],
        input=standard_json,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=120,
    )
    output: dict[str, object] = json.loads(result.stdout)
    return output


def test_solc_standin_caches_by_input_and_recompiles_when_an_imported_file_changes() -> None:
    """The stand-in's cache (build/solc-cache) answers an input it has seen, in any key order, and never an old
    output once a file the compiler imported has changed."""
    root = project_root()
    work = root / "build" / "solc-cache-test" / uuid.uuid4().hex
    work.mkdir(parents=True)
    imported = work / "Lib.sol"
    imported.write_text(
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\nlibrary Lib { uint256 constant X = 1; }\n"
    )
    relative = imported.relative_to(root).as_posix()
    main = f'// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\nimport "{relative}";\ncontract C {{}}\n'
    request = {
        "language": "Solidity",
        "sources": {"C.sol": {"content": main}},
        "settings": {"outputSelection": {"*": {"*": ["abi"], "": ["ast"]}}},
    }

    def entries() -> set[Path]:
        return set((root / "build" / "solc-cache").glob("*.json"))

    before = entries()

    fresh = _standin(json.dumps(request), CREDITSHARE_SOLC_CACHE="0")
    assert entries() == before  # the cache can be turned off
    first = _standin(json.dumps(request))
    assert first == fresh
    assert len(entries() - before) == 1
    reordered = {key: request[key] for key in reversed(list(request))}
    assert _standin(json.dumps(reordered)) == fresh
    assert len(entries() - before) == 1  # a hit: no second entry

    imported.write_text(imported.read_text().replace("X = 1", "X = 1; uint256 constant Y = 2"))
    changed = _standin(json.dumps(request))
    assert changed != fresh  # compiled again: the imported file's AST has Y
    assert "Y" in json.dumps(changed["sources"])
    assert len(entries() - before) == 1  # the same key, its entry replaced
