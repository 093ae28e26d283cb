"""Architecture guards: the `.importlinter` contracts hold (and can fail); modules stay small and documented."""

from __future__ import annotations

import ast
import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PACKAGE = SRC / "creditshare"
CONFIG = REPO / ".importlinter"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# The intended layering, top to bottom; `a | b` are independent siblings (neither may import the other).
INTENDED_LAYERS = [
    "creditshare.cli",
    "creditshare.api | creditshare.devtools",
    "creditshare.console",
    "creditshare.gateway",
    "creditshare.alerts | creditshare.disputes",
    "creditshare.read | creditshare.write | creditshare.keyshare",
    "creditshare.chain",
    "creditshare.domain",
    "creditshare.core",
]

MAX_MODULE_LINES = 400
# Modules allowed over MAX_MODULE_LINES: path relative to src/creditshare -> one-line reason.
ALLOWED_LONG_MODULES: dict[str, str] = {}


def _contracts() -> dict[str, configparser.SectionProxy]:
    parser = configparser.ConfigParser()
    assert parser.read(CONFIG), f"{CONFIG} is missing"
    prefix = "importlinter:contract:"
    return {name.removeprefix(prefix): parser[name] for name in parser.sections() if name.startswith(prefix)}


def _modules() -> list[Path]:
    modules = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
    assert len(modules) > 10, f"found only {len(modules)} modules under {PACKAGE}"
    return modules


def _lint_imports(package_root: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with the repo's contracts against the `creditshare` found first on `package_root`."""
    assert LINT_IMPORTS.exists(), f"{LINT_IMPORTS} not installed (pip install -e '.[dev]')"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(package_root), os.environ.get("PYTHONPATH")])),
        "COLUMNS": "300",  # no wrapping of contract names or import chains in rich's output
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(CONFIG)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_lint_imports_passes_on_real_tree(tmp_path: Path) -> None:
    result = _lint_imports(SRC, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in result.stdout, result.stdout


def test_importlinter_layers_match_intended_order() -> None:
    contracts = _contracts()
    assert contracts["layers"]["type"] == "layers"
    assert [line.strip() for line in contracts["layers"]["layers"].strip().splitlines()] == INTENDED_LAYERS


def test_top_level_modules_all_in_a_layer() -> None:
    layered = {name.strip() for layer in INTENDED_LAYERS for name in layer.split("|")}
    top_level = {
        f"creditshare.{p.stem if p.is_file() else p.name}"
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").exists()
    }
    assert top_level - layered == set(), "add these to a layer in .importlinter and INTENDED_LAYERS"


# (module to edit, line appended to it, contract id that must break, import that must be reported)
UPWARD_IMPORTS = [
    (
        "core/config.py",
        "import creditshare.api.app  # noqa",
        "layers",
        "creditshare.core.config -> creditshare.api.app",
    ),
    (
        "read/queries.py",
        "import creditshare.write.outbox  # noqa",
        "layers",
        "creditshare.read.queries -> creditshare.write.outbox",
    ),
    (
        "write/outbox.py",
        "import creditshare.read.queries  # noqa",
        "layers",
        "creditshare.write.outbox -> creditshare.read.queries",
    ),
    ("domain/codec.py", "import sqlalchemy  # noqa", "domain-pure", "creditshare.domain.codec -> sqlalchemy"),
    ("core/clock.py", "import web3  # noqa", "core-no-web3-fastapi", "creditshare.core.clock -> web3"),
]


@pytest.mark.parametrize(
    ("module", "line", "contract", "chain"),
    UPWARD_IMPORTS,
    ids=["core->api", "read->write", "write->read", "domain->sqlalchemy", "core->web3"],
)
def test_lint_imports_fails_on_forbidden_import(
    tmp_path: Path, module: str, line: str, contract: str, chain: str
) -> None:
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "creditshare", ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "creditshare" / module
    source = target.read_text()
    target.write_text(source + ("" if source.endswith("\n") else "\n") + line + "\n")
    line_number = len(target.read_text().splitlines())

    result = _lint_imports(copy, cwd=tmp_path)

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"{_contracts()[contract]['name']} BROKEN" in output, output
    # The line number exists only in the tmp copy: proof that the copy, not the real tree, was analysed.
    assert f"{chain} (l.{line_number})" in output, output


def test_modules_under_line_limit_unless_allow_listed() -> None:
    lengths = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in _modules()}
    too_long = {path: n for path, n in lengths.items() if n > MAX_MODULE_LINES and path not in ALLOWED_LONG_MODULES}
    assert too_long == {}, f"split these modules (or allow-list them with a reason): {too_long}"
    stale = {path for path in ALLOWED_LONG_MODULES if lengths.get(path, 0) <= MAX_MODULE_LINES}
    assert stale == set(), f"allow-listed but missing or no longer long: {stale}"
    assert all(reason.strip() for reason in ALLOWED_LONG_MODULES.values()), "every allow-list entry needs a reason"


def test_modules_have_docstring() -> None:
    missing = [str(p.relative_to(PACKAGE)) for p in _modules() if not ast.get_docstring(ast.parse(p.read_text()))]
    assert missing == [], f"modules without a module docstring: {missing}"
