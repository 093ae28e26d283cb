"""Finding the project's checkout: the compiler and the local chain need its `contracts/`, `tools/` and
`node_modules/`. Only developer tooling asks; the gateway runs from an installed wheel without a checkout."""

from __future__ import annotations

import os
from pathlib import Path

from creditshare.core.exceptions import ToolchainError

#: Overrides where the checkout is (e.g. an installed package driven from a checkout elsewhere).
ROOT_ENV = "CREDITSHARE_PROJECT_ROOT"


def _is_checkout(path: Path) -> bool:
    return (path / "contracts").is_dir() and (path / "package.json").is_file()


def project_root() -> Path:
    """The checkout: `$CREDITSHARE_PROJECT_ROOT`, else the source tree this package was installed from in
    development mode (`src/creditshare/...`), else the nearest folder at or above the working directory holding
    `contracts/` and `package.json`. Raises `ToolchainError` when there is none."""
    given = os.environ.get(ROOT_ENV)
    if given:
        root = Path(given).expanduser().resolve()
        if not _is_checkout(root):
            raise ToolchainError(f"{ROOT_ENV}={given} is not a creditshare checkout (no contracts/ and package.json)")
        return root
    source = Path(__file__).resolve().parents[3]  # <root>/src/creditshare/devtools/checkout.py
    here = Path.cwd().resolve()
    for candidate in (source, here, *here.parents):
        if _is_checkout(candidate):
            return candidate
    raise ToolchainError(
        "this needs a checkout of the creditshare project (contracts/, package.json, node_modules/): run it from "
        f"the checkout or set {ROOT_ENV}"
    )
