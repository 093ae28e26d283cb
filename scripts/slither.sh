#!/usr/bin/env bash
# Static analysis of contracts/ with slither, configured by slither.config.json (see docs/static-analysis.md).
#
# slither-analyzer 0.11.6 pins packages that clash with eth-brownie's exact pins, so it lives in its own virtualenv,
# .venv-slither, created here on first use (idempotent). slither compiles through Brownie
# (`--compile-force-framework brownie`), so the project's .venv/bin (brownie) and node_modules/.bin (ganache-cli)
# go first on PATH, and Brownie finds solc 0.8.28 as the stand-in linked into ~/.solcx by `make setup`.
#
# `--install-only`: create or update .venv-slither and stop (`make test` runs it beside the other installs).
# Exit status: non-zero on any Medium or High finding (--fail-medium), or when compilation fails.
# Also writes the findings to reports/slither.json (reports/ is git-ignored).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
SLITHER_VERSION="0.11.6"
VENV="$ROOT/.venv-slither"
PYTHON="${PYTHON311:-python3.11}"

if [[ ! -x "$VENV/bin/slither" ]] || [[ "$("$VENV/bin/slither" --version 2>/dev/null)" != "$SLITHER_VERSION" ]]; then
    command -v "$PYTHON" >/dev/null || { echo "slither.sh: $PYTHON is required to create $VENV" >&2; exit 1; }
    [[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
    echo "slither.sh: installing slither-analyzer==$SLITHER_VERSION into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "slither-analyzer==$SLITHER_VERSION"
fi

[[ "${1:-}" == "--install-only" ]] && exit 0

for tool in "$ROOT/.venv/bin/brownie" "$ROOT/node_modules/.bin/ganache-cli" "$ROOT/node_modules/solc"; do
    [[ -e "$tool" ]] || { echo "slither.sh: $tool is missing; run \`make setup\`" >&2; exit 1; }
done
export PATH="$ROOT/.venv/bin:$ROOT/node_modules/.bin:$PATH"

# The solc stand-in link (idempotent; the same step `make setup` runs).
"$ROOT/.venv/bin/python" -c 'from creditshare.devtools.compiler import install_brownie_standin as i; i()'

# crytic-compile runs `brownie compile` itself but ignores its exit status and would then analyse whatever is in
# build/: compile first so that a compiler error stops here.
brownie compile --all

mkdir -p reports
rm -f reports/slither.json
"$VENV/bin/slither" . --config-file slither.config.json --compile-force-framework brownie --fail-medium \
    --json reports/slither.json
