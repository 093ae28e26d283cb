"""A gateway on subject keys v2, end to end: real `creditshare serve` processes, key-share holders over HTTP on
loopback, the share set published on chain by governance. What a gateway does when holders are down or a quota
is used up, what it does without them for known customers, and that no lender's folder lets it compute another
lender's borrower's key offline."""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.chain.keyshares import publish_share_set
from creditshare.core.oprf import Mode, evaluate, group, split
from creditshare.devtools.devchain import DevChain
from creditshare.devtools.localnet import GatewayEnv, GatewayProcess
from creditshare.domain.identity import normalise, oprf_input, subject_key_v2
from creditshare.keyshare.directory import directory, to_chain
from creditshare.keyshare.holder import CachedMembership, Quota, registry_membership
from creditshare.keyshare.shares import Holder, ShareFile, ShareSet
from tests.support import Consortium
from tests.support.holders import HOLDER_ACCOUNTS, TEST_OPRF_KEY, HolderServer, subject_key_of
from tests.support.records import build_record, numbered_resident_id

LENDERS = (16, 17)  # dev accounts of this module's lenders
PLENTY = Quota(10**6, 10**6)


@pytest.fixture
def v2_consortium(w3: Web3, accounts: list[LocalAccount]) -> Consortium:
    c = Consortium.deploy(w3, accounts, governors=accounts[:3], threshold=2)
    for i in LENDERS:
        c.admit_lender(accounts[i], f"Lender {i}")
    return c


class Holders:
    """Three holders of `TEST_OPRF_KEY` (2-of-3), each its own server, published on chain for the consortium."""

    def __init__(self, consortium: Consortium, folder: Path, quota: Quota) -> None:
        membership = CachedMembership(registry_membership(consortium.registry), ttl=0.5)
        self.shares = split(TEST_OPRF_KEY, 2, 3)
        self.servers = [HolderServer.create(s, folder, membership, quota).start() for s in self.shares]
        self.share_set = ShareSet(
            1,
            2,
            group.base_mul(TEST_OPRF_KEY),
            tuple(
                Holder(s.index, s.public_key, server.url, account)
                for s, server, account in zip(self.shares, self.servers, HOLDER_ACCOUNTS, strict=True)
            ),
        )
        governors = consortium.governor_txs()
        for governor in governors:
            governor.resync_nonce()
        publish_share_set(directory(consortium.w3, consortium.deployment), governors, to_chain(self.share_set))

    def stop(self, *indexes: int) -> None:
        for server in self.servers:
            if server.holder.index in indexes:
                server.stop()

    def stop_all(self) -> None:
        self.stop(1, 2, 3)


@pytest.fixture
def start(
    tmp_path: Path, v2_consortium: Consortium, devchain: DevChain, accounts: list[LocalAccount]
) -> Iterator[object]:
    started: list[GatewayProcess] = []
    holders: list[Holders] = []

    def run(quota: Quota = PLENTY, lender: int = LENDERS[0]) -> tuple[httpx.Client, GatewayEnv, Holders]:
        if not holders:
            holders.append(Holders(v2_consortium, tmp_path, quota))
        env = GatewayEnv(tmp_path / f"gw-{lender}", accounts[lender], devchain.rpc_url, v2_consortium.deployment)
        key = env.add_client("all", "submit,query,verify")
        started.append(GatewayProcess(env).start())
        client = httpx.Client(base_url=env.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        return client, env, holders[0]

    yield run
    for process in started:
        process.stop()
    for h in holders:
        h.stop_all()


def outbox_rows(env: GatewayEnv) -> int:
    import sqlite3

    with sqlite3.connect(env.home / "gateway.db") as db:
        return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])


def test_fewer_than_t_holders_is_503_keyshare_unavailable_and_nothing_is_stored(start) -> None:  # type: ignore[no-untyped-def]
    api, env, holders = start()
    known = build_record(id_number=numbered_resident_id(700))
    assert api.post("/v1/events", json=[known]).json()["accepted"] == 1
    before = outbox_rows(env)

    holders.stop(1, 2)  # one of three left: t = 2 cannot be met

    new = build_record(id_number=numbered_resident_id(701))
    answer = api.post("/v1/events", json=[new])
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "keyshare_unavailable", answer.text
    assert "1 of the 2 key-share holders needed answered" in answer.json()["error"]["message"]
    assert outbox_rows(env) == before
    report = api.post(
        "/v1/reports",
        json={
            "id_type": "resident_id",
            "id_number": known["id_number"],
            "purpose": "loan_application",
            "consent_ref": "C-1",
        },
    )
    assert report.status_code == 503 and report.json()["error"]["code"] == "keyshare_unavailable"
    assert outbox_rows(env) == before  # no inquiry queued either

    # A known customer's record needs no round trip: its output is in the gateway's encrypted cache.
    again = build_record(id_number=known["id_number"], loan_number="L-SECOND")
    answer = api.post("/v1/events", json=[again])
    assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text


def test_one_holder_down_is_passed_over_and_counted(start) -> None:  # type: ignore[no-untyped-def]
    api, env, holders = start()
    holders.stop(1)
    record = build_record(id_number=numbered_resident_id(710))
    answer = api.post("/v1/events", json=[record])
    assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text
    metrics = httpx.get(env.url + "/metrics").text
    assert 'creditshare_keyshare_answers_total{holder="1",outcome="unreachable"} 1.0' in metrics
    assert 'creditshare_keyshare_answers_total{holder="3",outcome="ok"} 1.0' in metrics


def test_quota_used_up_at_the_holders_is_429_keyshare_quota_exceeded(start) -> None:  # type: ignore[no-untyped-def]
    api, env, _ = start(quota=Quota(per_minute=3, per_day=100))
    records = [build_record(id_number=numbered_resident_id(720 + i)) for i in range(3)]
    assert api.post("/v1/events", json=records).json()["accepted"] == 3
    before = outbox_rows(env)
    answer = api.post("/v1/events", json=[build_record(id_number=numbered_resident_id(730))])
    assert answer.status_code == 429 and answer.json()["error"]["code"] == "keyshare_quota_exceeded", answer.text
    assert "quota_exceeded" in answer.json()["error"]["message"]
    assert outbox_rows(env) == before


def test_the_subject_key_on_chain_is_the_v2_key(start, v2_consortium: Consortium) -> None:  # type: ignore[no-untyped-def]
    api, _, _ = start()
    record = build_record(id_number=numbered_resident_id(740))
    event_id = api.post("/v1/events", json=[record]).json()["results"][0]["event_id"]
    status = wait_confirmed(api, event_id)
    receipt = v2_consortium.w3.eth.get_transaction_receipt(status["tx_hash"])
    subjects = {bytes(log["topics"][1]) for log in receipt["logs"] if len(log["topics"]) > 1}
    assert subject_key_of("resident_id", record["id_number"]) in subjects


def wait_confirmed(api: httpx.Client, event_id: int) -> dict[str, object]:
    from tests.support.gateways import wait_until

    def confirmed() -> dict[str, object] | None:
        body: dict[str, object] = api.get(f"/v1/events/{event_id}").json()
        return body if body["status"] == "confirmed" else None

    return wait_until(confirmed, timeout=60)


HEX = re.compile(rb"(?<![0-9a-fA-F])[0-9a-fA-F]{64,}(?![0-9a-fA-F])")


def candidate_secrets(folder: Path) -> set[bytes]:
    """Everything in `folder` that could be a key: every run of 64+ hex digits in any file (text, JSON, the
    SQLite database), every 32-byte window of every JSON string value that is hex, and the share secrets."""
    found: set[bytes] = set()
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        for match in HEX.findall(data):
            raw = bytes.fromhex(match[: len(match) // 2 * 2].decode())
            found |= {raw[i : i + 32] for i in range(0, len(raw) - 31)} | {raw}
        if path.suffix == ".json":
            try:
                ShareFile.read(path)
                found.add(ShareFile.read(path).share.secret)
            except Exception:
                pass
        found |= {data[i : i + 32] for i in range(0, max(0, len(data) - 31), 32)}  # raw 32-byte cells too
    return found


def test_no_file_in_one_lenders_folder_computes_another_lenders_borrower_key(  # type: ignore[no-untyped-def]
    start, tmp_path: Path
) -> None:
    api_a, env_a, holders = start(lender=LENDERS[0])
    api_b, env_b, _ = start(lender=LENDERS[1])
    for i, env in enumerate((env_a, env_b)):  # each lender organisation also holds a share, as in the demo
        ShareFile(holders.shares[i], holders.share_set).write(env.home / "keyshare" / "share.json")
    own = build_record(id_number=numbered_resident_id(750))
    theirs = build_record(id_number=numbered_resident_id(751))
    assert api_a.post("/v1/events", json=[own]).json()["accepted"] == 1
    wait_confirmed(api_b, api_b.post("/v1/events", json=[theirs]).json()["results"][0]["event_id"])

    target = subject_key_of("resident_id", theirs["id_number"])
    x = oprf_input("resident_id", normalise("resident_id", theirs["id_number"]))
    candidates = candidate_secrets(env_a.home)
    assert len(candidates) > 100  # the attempt really read the folder: keystore, record key, share, database
    for secret in candidates:
        assert hmac.digest(secret, f"subject:v1:resident_id:{theirs['id_number']}".encode(), "sha256") != target
        try:
            assert subject_key_v2(evaluate(secret, x, Mode.VOPRF)) != target
        except Exception as exc:  # not a valid scalar: cannot be an OPRF key
            assert "scalar" in str(exc).lower() or "key" in str(exc).lower(), exc
    # With two organisations' shares together (t = 2) it can: the threshold is what protects the borrower.
    shares = [ShareFile.read(env.home / "keyshare" / "share.json").share for env in (env_a, env_b)]
    from creditshare.core.oprf import lagrange_coefficients

    lam = lagrange_coefficients([s.index for s in shares])
    k = group.scalar_add(group.scalar_mul(lam[1], shares[0].secret), group.scalar_mul(lam[2], shares[1].secret))
    assert subject_key_v2(evaluate(k, x, Mode.VOPRF)) == target
    assert json.loads((env_a.home / "keyshare" / "share.json").read_text())["index"] == 1
