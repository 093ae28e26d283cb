# creditshare — the two commands are `make run` (main job) and `make test` (whole suite).
# Both install what they need first (idempotently): a Python 3.11 virtualenv in .venv, the pinned npm
# toolchain (ganache, solc) in node_modules, and the solc stand-in where py-solc-x/Brownie look for solc.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: setup solc-standin run test lint typecheck pytest pytest-fast brownie-test slither artifacts bench clean

setup: $(VENV)/.installed node_modules/.installed solc-standin libsodium

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "Python 3.11 is required (found $$($(PYTHON) --version))"; exit 1; }
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	$(BIN)/python -m pip check
	@touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 20+) is required: apt-get install nodejs npm"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Subject keys v2 need the system libsodium (1.0.18+: ristretto255), which pysodium loads: Debian's libsodium23,
# installed from the Debian registry when missing and we may (root with apt-get), else a one-line instruction.
.PHONY: libsodium
libsodium: $(VENV)/.installed
	@$(BIN)/python -c 'from creditshare.core.oprf import group; group.base_mul(group.scalar_from_int(1))' 2>/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then apt-get install -y -q libsodium23 >/dev/null; \
	  else echo "libsodium 1.0.18+ is required for subject keys v2: apt-get install libsodium23"; exit 1; fi; }
	@$(BIN)/python -c 'from creditshare.core.oprf import group; group.base_mul(group.scalar_from_int(1)); print("libsodium: ristretto255 ok")'

# The console's browser tests drive Debian's Chromium through Debian's chromedriver (selenium, offline), with a CJK
# font so pages render as people see them. Installed from the Debian registry when missing and we may (root with
# apt-get; `apt-get update` only when the install fails), else a one-line instruction. `make test` needs it,
# `make run` does not.
BROWSER_PACKAGES := chromium chromium-driver fonts-wqy-zenhei
.PHONY: browser
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && fc-list 2>/dev/null | grep -qi "wenquanyi"; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null; }; \
	else echo "the console's browser tests need Debian's chromium, chromium-driver and fonts-wqy-zenhei: apt-get install $(BROWSER_PACKAGES)"; exit 1; fi
	@/usr/bin/chromedriver --version

# Always re-linked (cheap): the link must point at *this* checkout's stand-in and node_modules.
solc-standin: $(VENV)/.installed node_modules/.installed
	@$(BIN)/python -c 'from creditshare.devtools.compiler import install_brownie_standin as i; print("solc stand-in:", i())'

## Main job: local chain + deployed consortium (Ctrl-C stops everything).
run: setup
	$(BIN)/creditshare demo

## The whole test suite: lint, types, pytest on a real Ganache, Brownie's own tests, forge, slither, API fuzzing.
## The installs go first and side by side (they wait on the registries and the disk); the checks then share the two
## cores one after another.
test:
	@$(MAKE) --no-print-directory -j4 --output-sync=target setup browser $(SCHEMATHESIS_VENV)/.installed $(SLITHER_VENV)/.installed
	@$(MAKE) --no-print-directory lint typecheck pytest brownie-test forge-test slither api-fuzz

lint:
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/lint-imports

typecheck:
	$(BIN)/mypy

# Two workers (each with its own Ganache): the suite waits on chains and subprocesses as much as it computes.
PYTEST_WORKERS ?= 2

pytest:
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope --durations=20

## While developing: everything but the tests marked slow (fault injection, CLI end to end, compiles).
pytest-fast: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope -m 'not slow'

# Brownie's tests, then each operator script once (every `brownie run` starts and stops its own Ganache).
# The scripts go through creditshare.devtools.brownie_cli (= `brownie`, but `run` imports the script from its
# file): plain `brownie run` fails in a checkout whose path contains a dot (docs/brownie.md, "Commands").
BROWNIE_RUN := $(BIN)/python -m creditshare.devtools.brownie_cli run
brownie-test:
	$(BIN)/brownie compile
	$(BIN)/brownie test
	$(BROWNIE_RUN) scripts/deploy.py --network ganache-cli
	$(BROWNIE_RUN) scripts/governance.py demo --network ganache-cli
	$(BROWNIE_RUN) scripts/bootstrap_demo.py --network ganache-cli

SLITHER_VENV := .venv-slither
$(SLITHER_VENV)/.installed: scripts/slither.sh
	bash scripts/slither.sh --install-only
	@touch $@

slither:
	bash scripts/slither.sh

## Foundry fuzz and invariant tests of contracts/ (tests/forge, foundry.toml): forge from npm (package.json), offline,
## compiling with the solc stand-in given by absolute path so the checkout can live anywhere.
.PHONY: forge-test
forge-test: setup
	bash scripts/forge-test.sh

## API fuzzing: schemathesis with all its checks against a real gateway on Ganache (tests/fuzz/run_schemathesis.py).
## schemathesis 4.x needs a newer hypothesis than Brownie pins, so it has its own venv, pinned exactly.
.PHONY: api-fuzz
SCHEMATHESIS_VENV := .venv-schemathesis

$(SCHEMATHESIS_VENV)/.installed: tools/schemathesis-requirements.txt
	@test -x $(SCHEMATHESIS_VENV)/bin/python || $(PYTHON) -m venv $(SCHEMATHESIS_VENV)
	$(SCHEMATHESIS_VENV)/bin/python -m pip install -q --disable-pip-version-check -r tools/schemathesis-requirements.txt
	$(SCHEMATHESIS_VENV)/bin/python -m pip check
	@touch $@

# 50 cases per operation and phase (times each key's factor; ~3,300 requests in ~100 s), within the CI budget;
# run it with a larger --max-examples (the script's default is 100) to dig deeper.
API_FUZZ_EXAMPLES ?= 50
api-fuzz: setup $(SCHEMATHESIS_VENV)/.installed
	$(BIN)/python -m tests.fuzz.run_schemathesis --st $(SCHEMATHESIS_VENV)/bin/st --max-examples $(API_FUZZ_EXAMPLES)

## Recompile contracts/ into src/creditshare/artifacts.
artifacts: setup
	$(BIN)/creditshare compile

bench: setup
	$(BIN)/python benchmarks/gas.py

clean:
	rm -rf build reports .pytest_cache .mypy_cache .ruff_cache
