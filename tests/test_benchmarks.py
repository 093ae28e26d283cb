"""The benchmarks run on demand, not in the suite: at least check here that each one still imports (a rename in
the package broke benchmarks/report.py once without any test noticing)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.parametrize("script", sorted(p.stem for p in BENCHMARKS.glob("*.py")))
def test_benchmark_imports(script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their siblings, as when run directly
    module = importlib.import_module(script)
    assert module.__doc__, f"benchmarks/{script}.py needs a docstring saying how to run it"
    if script != "bench_keys":
        assert callable(getattr(module, "main", None)), f"benchmarks/{script}.py has no main()"
    sys.modules.pop(script, None)
