"""Brownie's operator-script runs work wherever the checkout is (docs/brownie.md, "Commands").

eth-brownie 1.22.2's `brownie run` imports a script by the dotted form of its absolute path, so it fails in a
folder whose path contains a dot; `make brownie-test` therefore runs the scripts through
`python -m creditshare.devtools.brownie_cli run`. Both are checked here, as `make brownie-test` runs them (Brownie
launches its `ganache-cli` network from node_modules/.bin), in a copy of the Brownie project under such a folder.

Brownie runs in subprocesses (the main suite runs with `-p no:pytest-brownie`, and importing `brownie` loads the
project of the working directory). They use this checkout's code (PYTHONPATH), a solc stand-in link of their own
(SOLCX_BINARY_PATH) and a free port instead of brownie-config.yaml's 8555, so they race no other Brownie run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from web3 import Web3

from creditshare.devtools import compiler

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent  # .venv/bin, as the Makefile's $(BIN)
NODE_BIN = ROOT / "node_modules" / ".bin"  # ganache-cli, as the Makefile puts on PATH
NETWORK = "ganache-cli"
DEPLOYMENT_FILE = Path("build") / "creditshare" / f"deployment-{NETWORK}.json"  # brownie_support.deployment_path()
ANSI = re.compile(r"\x1b\[[0-9;]*m")
TIMEOUT = 300  # s, per Brownie command; the first one also compiles contracts/ (solcjs, via-IR)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dotted_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What `brownie run` needs of the checkout (brownie-config.yaml, contracts/, scripts/, the tests folder),
    under a folder named `release.v1`, with the ganache-cli network on a free port."""
    project = tmp_path / "release.v1" / "creditshare"
    project.mkdir(parents=True)
    shutil.copytree(ROOT / "contracts", project / "contracts")
    shutil.copytree(ROOT / "scripts", project / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    config = yaml.safe_load((ROOT / "brownie-config.yaml").read_text(encoding="utf-8"))
    config["networks"][NETWORK]["cmd_settings"]["port"] = _free_port()
    (project / "brownie-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    (project / config["project_structure"]["tests"]).mkdir(parents=True)  # Brownie makes only its last folder

    monkeypatch.setenv("SOLCX_BINARY_PATH", str(tmp_path / "solcx"))
    compiler.install_brownie_standin()  # links this checkout's stand-in there, as `make setup` does in ~/.solcx
    return project


def _brownie(project: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """Run `command` in `project` with the Makefile's PATH; output with Brownie's colours removed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITSHARE_")}  # default signer and files
    env["PATH"] = os.pathsep.join([str(VENV_BIN), str(NODE_BIN), env.get("PATH", "")])
    env["PYTHONPATH"] = str(ROOT / "src")  # this checkout's creditshare, whatever the venv has installed
    process = subprocess.Popen(
        command,
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # on a timeout, the Ganache that Brownie launched goes too
    )
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"{' '.join(command)} did not finish in {TIMEOUT} s:\n{output}")
    return subprocess.CompletedProcess(command, process.returncode, ANSI.sub("", output), None)


@pytest.mark.slow
def test_operator_script_runs_in_a_dotted_path(dotted_project: Path) -> None:
    assert "." in dotted_project.parent.name
    deployment_file = dotted_project / DEPLOYMENT_FILE
    script = ("run", "scripts/deploy.py", "--network", NETWORK)

    # Brownie itself (this run also compiles the copy's contracts/ into its build/)
    plain = _brownie(dotted_project, str(VENV_BIN / "brownie"), *script)
    assert plain.returncode != 0, plain.stdout
    assert "ModuleNotFoundError: No module named '" in plain.stdout, plain.stdout  # a prefix of the dotted path
    assert not deployment_file.exists()

    # the Makefile's entry point: same command line
    fixed = _brownie(dotted_project, sys.executable, "-m", "creditshare.devtools.brownie_cli", *script)
    assert fixed.returncode == 0, fixed.stdout
    assert "Running 'scripts/deploy.py::main'" in fixed.stdout
    deployment = json.loads(deployment_file.read_text(encoding="utf-8"))
    assert Web3.is_checksum_address(deployment["registry"])
    assert Web3.is_checksum_address(deployment["ledger"])
    assert f"ConsortiumRegistry  {deployment['registry']}" in fixed.stdout
    assert "Terminating local RPC client" in fixed.stdout  # Brownie stopped the Ganache it launched
