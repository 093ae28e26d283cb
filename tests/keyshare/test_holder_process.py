"""The key ceremony and the holder service as an operator runs them: `creditshare keyshare init`, `publish` (two
governors), three `creditshare keyshare serve` processes anchoring their logs on chain, `show`, `verify-log`, and
`reshare` (rotation to a new holder set with the same subject keys). Real processes, real chain."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.chain import keyshares
from creditshare.core.oprf import Mode, evaluate, finalize_verified, group, partial_evaluate, verify_partial
from creditshare.core.oprf import blind as blind_input
from creditshare.devtools.devchain import DevChain, free_port
from creditshare.devtools.localnet import HolderEnv, HolderProcess, wait_until
from creditshare.keyshare.client import KeyshareClient
from creditshare.keyshare.directory import directory, published_share_set
from creditshare.keyshare.shares import init, reshare
from tests.support import Consortium

HOLDER_ACCOUNTS = (7, 8, 14)  # dev accounts the holders anchor from
LENDER = 3


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "creditshare.cli", *args],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("CREDITSHARE_")},
            **(env or {}),
            "COLUMNS": "250",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ceremony_publish_serve_anchor_verify(
    tmp_path: Path, w3: Web3, devchain: DevChain, accounts: list[LocalAccount], consortium: Consortium
) -> None:
    ports = [free_port() for _ in HOLDER_ACCOUNTS]
    holders = [f"http://127.0.0.1:{p},{accounts[a].address}" for p, a in zip(ports, HOLDER_ACCOUNTS, strict=True)]
    made = cli(
        "keyshare",
        "init",
        "--threshold",
        "2",
        "--out",
        str(tmp_path / "shares"),
        *[arg for h in holders for arg in ("--holder", h)],
    )
    assert made.returncode == 0, made.stdout + made.stderr
    assert "wrote 3 shares (2-of-3, set v1)" in made.stdout
    consortium.deployment.save(tmp_path / "deployment.json")
    base = {"CREDITSHARE_RPC_URL": devchain.rpc_url, "CREDITSHARE_DEPLOYMENT_FILE": str(tmp_path / "deployment.json")}
    for governor in (0, 1):
        voted = cli(
            "keyshare", "publish", str(tmp_path / "shares" / "share-set.json"), "--dev-account", str(governor), env=base
        )
        assert voted.returncode == 0, voted.stdout + voted.stderr
    assert "share set is now current" in voted.stdout
    on_chain = published_share_set(w3, consortium.deployment)
    assert [h.url for h in on_chain.holders] == [h.split(",")[0] for h in holders]

    envs = [
        HolderEnv(tmp_path / f"holder-{i}", accounts[a], devchain.rpc_url, consortium.deployment,
                  tmp_path / "shares" / f"share-{i}.json", port=p,
                  extra={"CREDITSHARE_KEYSHARE_ANCHOR_INTERVAL": "0.3"})
        for i, (a, p) in enumerate(zip(HOLDER_ACCOUNTS, ports, strict=True), start=1)
    ]  # fmt: skip
    processes = [HolderProcess(env).start() for env in envs]
    try:
        client = KeyshareClient(on_chain, accounts[LENDER])
        for round_ in range(3):
            client.evaluate([f"resident_id:{round_}-{i}".encode() for i in range(20)], "submit")
        client.close()
        contract = directory(w3, consortium.deployment)

        def anchored() -> bool:
            heads = [httpx.get(f"{e.url}/v1/log/head").json() for e in envs]
            return all(h["seq"] == 0 or (h["anchored_seq"] == h["seq"]) for h in heads) and any(h["seq"] for h in heads)

        wait_until(anchored, timeout=30)
        for i, env in enumerate(envs, start=1):
            with sqlite3.connect(env.home / "holder.db") as db:
                row = db.execute("SELECT seq, entry_hash FROM keyshare_log ORDER BY seq DESC LIMIT 1").fetchone()
            anchor = keyshares.last_anchor(contract, i)
            if row is None:
                assert anchor is None
                continue
            assert anchor is not None and (anchor.seq, anchor.head) == (row[0], bytes(row[1]))
        shown = cli("keyshare", "show", env=base)
        assert shown.returncode == 0 and "share set v1: 2-of-3" in shown.stdout, shown.stdout + shown.stderr
    finally:
        for process in processes:
            process.stop()

    busy = next(env for env in envs if (env.home / "holder.db").exists())
    checked = cli("keyshare", "verify-log", env=busy.environ())
    assert checked.returncode == 0 and "evaluation log ok" in checked.stdout, checked.stdout + checked.stderr
    assert "anchored on chain up to entry" in checked.stdout
    with sqlite3.connect(busy.home / "holder.db") as db:  # the holder quietly shrinks what was asked of it
        db.execute("UPDATE keyshare_log SET count = 1 WHERE seq = 1")
    broken = cli("keyshare", "verify-log", env=busy.environ())
    assert broken.returncode == 1 and "broken at entry 1" in broken.stderr, broken.stdout + broken.stderr


def test_reshare_keeps_every_output_and_changes_every_share() -> None:
    k = group.scalar_from_int(0xC0FFEE * 104729)
    old = init(2, [(f"http://o{i}", "0x" + f"{i + 1:040x}") for i in range(3)], key=k)
    new = reshare(old[1:], 3, [(f"http://n{j}", "0x" + f"{j + 2:040x}") for j in range(4)], version=2)
    assert [f.share.index for f in new] == [1, 2, 3, 4] and new[0].share_set.threshold == 3
    assert new[0].share_set.group_public_key == group.base_mul(k)  # ShareSet checked the new keys interpolate to it
    assert {f.share.secret for f in new}.isdisjoint({f.share.secret for f in old})
    x = b"resident_id:11010519491231002X"
    for subset in (new[:3], new[1:]):
        b = blind_input(x, Mode.VOPRF)
        verified = [
            verify_partial(partial_evaluate(f.share, [b.element]), f.share.public_key, [b.element]) for f in subset
        ]
        assert finalize_verified([b], verified, 3) == [evaluate(k, x, Mode.VOPRF)]
