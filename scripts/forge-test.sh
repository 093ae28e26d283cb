#!/usr/bin/env bash
# Foundry fuzz and invariant tests of contracts/ (tests/forge, configured by foundry.toml); see docs/contracts.md,
# "Fuzz and invariant tests".
#
# Offline: forge is the npm package @foundry-rs/forge-linux-amd64 pinned in package.json (installed by `npm ci`,
# i.e. `make setup`), and it compiles with the project's solc stand-in (tools/solc-standin.js → node_modules/solc),
# passed here as an absolute path so the run does not depend on the working directory. Nothing is downloaded.
#
# Prints forge's results, then one line per invariant with its runs × depth. Extra arguments go to `forge test`
# (e.g. `--match-contract LedgerInvariants`). Exit status: forge's.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
FORGE="$ROOT/node_modules/.bin/forge"
[[ -x "$FORGE" ]] || { echo "forge-test.sh: $FORGE is missing; run \`make setup\`" >&2; exit 1; }
command -v node >/dev/null || { echo "forge-test.sh: node is required (the solc stand-in is a node script)" >&2; exit 1; }

LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
status=0
"$FORGE" test --root "$ROOT" --offline --use "$ROOT/tools/solc-standin.js" "$@" | tee "$LOG" || status=$?

# "Ran 3 tests for tests/forge/X.t.sol:Suite" then "[PASS] invariant_y() (runs: R, calls: C, reverts: V)".
echo
echo "Invariants (runs × depth = calls):"
awk '
    /^Failing tests:/ { exit }
    /^Ran [0-9]+ tests? for / { n = split($NF, part, ":"); suite = part[n] }
    /invariant_[A-Za-z0-9_]*\(\)/ && /runs: [0-9]+, calls: [0-9]+/ {
        match($0, /invariant_[A-Za-z0-9_]*/); name = substr($0, RSTART, RLENGTH)
        match($0, /runs: [0-9]+/); runs = substr($0, RSTART + 6, RLENGTH - 6) + 0
        match($0, /calls: [0-9]+/); calls = substr($0, RSTART + 7, RLENGTH - 7) + 0
        if ($0 !~ /^\[PASS\]/) { printf "  FAIL %s.%s (counterexample of %d calls above)\n", suite, name, calls; next }
        printf "  PASS %s.%s: %d runs × depth %d = %d calls\n", suite, name, runs, (runs > 0 ? calls / runs : 0), calls
    }
' "$LOG" || true
exit "$status"
