"""The CLI as a user runs it: real processes, real Ganache, one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from web3 import Web3

from creditshare.chain import connect
from creditshare.devchain import DevChain, free_port
from creditshare.localnet import wait_until

CLI = [sys.executable, "-m", "creditshare.cli"]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False)


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


def test_demo_starts_chain_deploys_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    gateway_port = free_port()
    env = {**os.environ, "CREDITSHARE_HOME": str(tmp_path), "CREDITSHARE_CHAIN_PORT": str(port)}

    def report_lenders() -> int:
        """Active-loan lenders of the demo's multi-lending borrower, from lender 2's gateway over HTTP."""
        from creditshare.demo import MULTI_BORROWER

        key = (tmp_path / "lender-2" / "demo-api-key").read_text().strip()
        body = {"id_type": "resident_id", "id_number": MULTI_BORROWER, "purpose": "post_loan", "consent_ref": "T-1"}
        response = httpx.post(
            f"http://127.0.0.1:{gateway_port + 1}/v1/reports", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        return int(response.json()["summary"]["lenders_with_active_loans"]) if response.status_code == 200 else 0

    def run_demo() -> str:
        proc = subprocess.Popen(
            [*CLI, "demo", "--first-port", str(gateway_port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        deadline = time.monotonic() + 120
        lines = []
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        # the main job's borrower borrows from all three lenders: a report over HTTP shows it once indexed
        assert wait_until(lambda: report_lenders() == 3, timeout=60)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, "".join(lines) + rest
        return "".join(lines) + rest

    first = run_demo()
    deployment = json.loads((tmp_path / "deployment.json").read_text())
    assert deployment["registry"] in first and deployment["ledger"] in first
    assert first.count("admitted ") == 3  # three lenders, each by proposal + approval
    assert first.count("curl -s -X POST") == 3
    assert "stopped" in first
    second = run_demo()  # state persists: same contracts, lenders and keys reused
    assert "reusing the deployment" in second
    assert deployment["registry"] in second
    assert "admitted " not in second
    assert "sample history: 0 new records" in second
