"""The CLI as a user runs it: real processes, real Ganache, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from web3 import Web3

from creditshare.chain.rpc import connect
from creditshare.devtools.devchain import DevChain, free_port

CLI = [sys.executable, "-m", "creditshare.cli"]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False)


@pytest.mark.slow
def test_compile_check_passes_on_committed_artifacts() -> None:
    result = run_cli("compile", "--check")
    assert result.returncode == 0, result.stderr
    assert "artifacts match" in result.stdout


def test_deploy_unreachable_chain_fails_with_one_line(tmp_path: Path) -> None:
    result = run_cli(
        "deploy", "--dev", "--rpc-url", f"http://127.0.0.1:{free_port()}", "--out", str(tmp_path / "d.json")
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "no chain node answers" in result.stderr
    assert not (tmp_path / "d.json").exists()


def test_deploy_without_key_says_what_to_set(devchain: DevChain, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITSHARE_")}
    result = run_cli("deploy", "--rpc-url", devchain.rpc_url, "--out", str(tmp_path / "d.json"), env=env)
    assert result.returncode == 1
    assert "CREDITSHARE_KEYSTORE" in result.stderr


def test_deploy_dev_writes_deployment_file(devchain: DevChain, tmp_path: Path) -> None:
    out = tmp_path / "deployment.json"
    result = run_cli("deploy", "--dev", "--rpc-url", devchain.rpc_url, "--out", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    w3 = connect(devchain.rpc_url)
    assert data["chain_id"] == 1337
    assert w3.eth.get_code(Web3.to_checksum_address(data["registry"]))
    assert w3.eth.get_code(Web3.to_checksum_address(data["ledger"]))
