"""Compile `contracts/` into the JSON artifacts shipped as package data.

The gateway loads those artifacts at run time without Node; only this build step needs the pinned npm `solc`
(solcjs), driven through py-solc-x and the stand-in in `tools/solc-standin.js` (no compiler is ever downloaded).
`check_artifacts()` recompiles and compares, so committed artifacts can never drift from the sources.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import solcx

from creditshare.chain.artifacts import Artifact
from creditshare.core.exceptions import ArtifactError, ToolchainError
from creditshare.devtools.checkout import project_root

#: The one solc version of the project; package.json and brownie-config.yaml pin the same.
SOLC_VERSION = "0.8.28"
#: EVM version that Ganache 7, Besu and GoQuorum all run.
EVM_VERSION = "shanghai"
OPTIMIZER_RUNS = 200
#: Contracts whose artifacts the package ships.
SHIPPED_CONTRACTS = ("ConsortiumRegistry", "CreditLedger", "KeyShareDirectory")

#: Where the shipped artifacts live: package data of `creditshare` (loaded by `chain.artifacts`).
ARTIFACTS_DIR = Path(__file__).resolve().parents[1] / "artifacts"


def contracts_dir() -> Path:
    """The checkout's `contracts/`."""
    return project_root() / "contracts"


def standin() -> Path:
    """The solc stand-in script (`tools/solc-standin.js`) that forwards to the pinned solcjs."""
    return project_root() / "tools" / "solc-standin.js"


def compiler_settings() -> dict[str, Any]:
    """The pinned solc settings (also written into every artifact)."""
    return {
        "evmVersion": EVM_VERSION,
        "viaIR": True,
        "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
        "metadata": {"bytecodeHash": "none"},
        "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
    }


def solc_binary() -> Path:
    """Path of the solc stand-in; fails with a clear message when the npm toolchain is not installed."""
    if shutil.which("node") is None:
        raise ToolchainError("node is not installed; run `make setup` (needs Node.js 18+)")
    if not (project_root() / "node_modules" / "solc").is_dir():
        raise ToolchainError("node_modules/solc is missing; run `make setup` (npm ci)")
    return standin()


def compile_sources(source_dir: Path, *, base: Path | None = None) -> dict[str, Artifact]:
    """Compile every `.sol` file under `source_dir` and return each contract by name.

    Source unit names are paths relative to `base` (default: the checkout) so that artifacts do not depend
    on where the checkout lives.
    """
    base = (base or project_root()).resolve()
    source_dir = source_dir.resolve()
    sources = {
        path.relative_to(base).as_posix(): {"content": path.read_text(encoding="utf-8")}
        for path in sorted(source_dir.rglob("*.sol"))
    }
    if not sources:
        raise ArtifactError(f"no .sol files under {source_dir}")
    settings = compiler_settings()
    standard_input = {"language": "Solidity", "sources": sources, "settings": settings}
    try:
        output = solcx.compile_standard(standard_input, solc_binary=solc_binary(), base_path=str(base))
    except solcx.exceptions.SolcError as exc:
        raise ToolchainError(f"solc failed: {exc}") from exc
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise ArtifactError("\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors))
    version = solcx.wrapper.get_version_str_from_solc_binary(solc_binary())
    recorded = {k: v for k, v in settings.items() if k != "outputSelection"}
    compiled: dict[str, Artifact] = {}
    for contracts in output["contracts"].values():
        for name, data in contracts.items():
            bytecode = data["evm"]["bytecode"]["object"]
            if not bytecode:  # interfaces
                continue
            compiled[name] = Artifact(
                name=name,
                abi=data["abi"],
                bytecode="0x" + bytecode,
                deployed_bytecode="0x" + data["evm"]["deployedBytecode"]["object"],
                compiler={"name": "solc", "version": version, "settings": recorded},
            )
    return compiled


def build_artifacts(out_dir: Path = ARTIFACTS_DIR) -> list[Path]:
    """Compile `contracts/` and write the shipped artifacts; returns the files written."""
    compiled = compile_sources(contracts_dir())
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SHIPPED_CONTRACTS:
        path = out_dir / f"{name}.json"
        path.write_text(compiled[name].to_json(), encoding="utf-8")
        written.append(path)
    return written


def check_artifacts(out_dir: Path = ARTIFACTS_DIR) -> list[str]:
    """Recompile and return the names of shipped artifacts that differ from a fresh compile (empty = in sync)."""
    compiled = compile_sources(contracts_dir())
    stale = []
    for name in SHIPPED_CONTRACTS:
        path = out_dir / f"{name}.json"
        if not path.exists() or path.read_text(encoding="utf-8") != compiled[name].to_json():
            stale.append(name)
    return stale


def install_brownie_standin() -> Path:
    """Link the stand-in where py-solc-x (and so Brownie and slither) looks for solc SOLC_VERSION.

    That folder is `$SOLCX_BINARY_PATH` or `~/.solcx`; the link is `solc-v<version>`. Idempotent.
    """
    folder = Path(os.environ.get("SOLCX_BINARY_PATH") or Path.home() / ".solcx")
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / f"solc-v{SOLC_VERSION}"
    if link.is_symlink() or link.exists():
        if link.resolve() == standin().resolve():
            return link
        link.unlink()
    link.symlink_to(standin())
    return link
