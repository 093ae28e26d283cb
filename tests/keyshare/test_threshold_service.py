"""The threshold OPRF over real HTTP: three holders (2-of-3) on loopback, membership read from a real registry on
Ganache, each holder with its own SQLite log. Nothing here is mocked: a malicious holder is a real server holding
a wrong share, a slow holder really sleeps, a suspended member is suspended by governance on chain."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from creditshare.chain.governance import Action
from creditshare.core.db import transaction
from creditshare.core.db.tables import KeyshareLogEntry
from creditshare.core.oprf import Mode, Share, evaluate, group, split
from creditshare.domain.identity import oprf_input, subject_key_v2
from creditshare.keyshare import evaluation_log
from creditshare.keyshare.client import KeyshareClient
from creditshare.keyshare.errors import KeyshareUnavailable
from creditshare.keyshare.holder import CachedMembership, Quota, registry_membership
from creditshare.keyshare.shares import Holder, ShareFile, ShareSet, init
from creditshare.keyshare.wire import MEMBER_HEADER, SIGNATURE_HEADER, TIME_HEADER, sign_request
from tests.support import Consortium
from tests.support.holders import HolderServer, free_port

T, N = 2, 3
ZERO = "0x" + "00" * 20
KEY = group.scalar_from_int(0x1234_5678_9ABC_DEF0 * 7919)  # a known key, so outputs can be checked against it
GENEROUS = Quota(per_minute=100_000, per_day=1_000_000)
INPUTS = [oprf_input("resident_id", f"11010519491231{i:03d}2") for i in range(5)]


def start_holders(
    tmp_path: Path, consortium: Consortium, shares: list[Share], quota: Quota = GENEROUS
) -> list[HolderServer]:
    membership = CachedMembership(registry_membership(consortium.registry), ttl=0.0)
    return [HolderServer.create(s, tmp_path, membership, quota).start() for s in shares]


def share_set(shares: list[Share], servers: list[HolderServer], threshold: int = T) -> ShareSet:
    return ShareSet(
        1,
        threshold,
        group.base_mul(KEY),
        tuple(Holder(s.index, s.public_key, server.url, ZERO) for s, server in zip(shares, servers, strict=True)),
    )


@pytest.fixture
def holders(tmp_path: Path, consortium: Consortium) -> Iterator[tuple[list[Share], list[HolderServer]]]:
    shares = split(KEY, T, N)
    servers = start_holders(tmp_path, consortium, shares)
    yield shares, servers
    for server in servers:
        server.stop()


def client_for(consortium: Consortium, s: ShareSet, **kwargs: object) -> KeyshareClient:
    return KeyshareClient(s, consortium.accounts[3], **kwargs)  # type: ignore[arg-type]


def test_threshold_evaluation_over_http_equals_the_single_key_prf(consortium, holders) -> None:
    shares, servers = holders
    client = client_for(consortium, share_set(shares, servers))
    try:
        outputs = client.evaluate(INPUTS, "submit")
    finally:
        client.close()
    assert outputs == [evaluate(KEY, x, Mode.VOPRF) for x in INPUTS]
    assert len({subject_key_v2(o) for o in outputs}) == len(INPUTS)


def test_any_two_holders_give_the_same_keys(consortium, holders) -> None:
    shares, servers = holders
    full = share_set(shares, servers)
    results = []
    for pair in ((0, 1), (1, 2), (0, 2)):
        subset = ShareSet(1, T, full.group_public_key, tuple(full.holders[i] for i in pair))
        client = client_for(consortium, subset)
        try:
            results.append(client.evaluate(INPUTS[:2], "submit"))
        finally:
            client.close()
    assert results[0] == results[1] == results[2]


def test_a_malicious_holder_is_detected_and_the_next_one_used(tmp_path, consortium) -> None:
    shares = split(KEY, T, N)
    liar = Share(shares[0].index, group.random_scalar(), shares[0].public_key)  # answers with another scalar
    servers = start_holders(tmp_path, consortium, [liar, *shares[1:]])
    client = client_for(consortium, share_set(shares, servers))
    try:
        outputs = client.evaluate(INPUTS, "submit")
        assert outputs == [evaluate(KEY, x, Mode.VOPRF) for x in INPUTS]
        only_liar_and_one = ShareSet(1, T, group.base_mul(KEY), share_set(shares, servers).holders[:2])
        lonely = client_for(consortium, only_liar_and_one)
        with pytest.raises(KeyshareUnavailable, match="holder 1: invalid answer"):
            lonely.evaluate(INPUTS[:1], "submit")
        lonely.close()
    finally:
        client.close()
        for server in servers:
            server.stop()


def test_a_holder_down_or_slow_is_passed_over_and_fewer_than_t_is_unavailable(consortium, holders) -> None:
    shares, servers = holders
    down = ShareSet(
        1,
        T,
        group.base_mul(KEY),
        (
            Holder(1, shares[0].public_key, f"http://127.0.0.1:{free_port()}", ZERO),
            *share_set(shares, servers).holders[1:],
        ),
    )
    client = client_for(consortium, down, timeout=1.0)
    try:
        assert client.evaluate(INPUTS[:1], "submit") == [evaluate(KEY, INPUTS[0], Mode.VOPRF)]
        servers[1].delay[0] = 3.0  # now holder 2 is slow and holder 1 down: one good answer of two needed
        started = time.monotonic()
        with pytest.raises(KeyshareUnavailable, match=r"1 of the 2 key-share holders needed answered"):
            client.evaluate(INPUTS[:1], "submit")
        assert time.monotonic() - started < 2.5  # the timeout, not the slow holder, bounds the wait
    finally:
        servers[1].delay[0] = 0.0
        client.close()


def test_a_slow_holder_costs_the_hedge_delay_not_the_timeout(consortium, holders) -> None:
    shares, servers = holders
    observed: list[tuple[int, str]] = []
    hedged = client_for(
        consortium, share_set(shares, servers), timeout=5.0, hedge_after=0.05, observe=lambda *a: observed.append(a)
    )
    patient = client_for(consortium, share_set(shares, servers), timeout=5.0)
    try:
        servers[0].delay[0] = 1.5  # holder 1, asked first, answers in 1.5 s
        started = time.monotonic()
        assert hedged.evaluate(INPUTS[:1], "submit") == [evaluate(KEY, INPUTS[0], Mode.VOPRF)]
        assert time.monotonic() - started < 1.0  # holders 2 and 3 answered; holder 1 was not waited for
        started = time.monotonic()
        assert patient.evaluate(INPUTS[:1], "submit") == [evaluate(KEY, INPUTS[0], Mode.VOPRF)]
        assert time.monotonic() - started >= 1.5  # without hedging the round waits for the slow holder
        deadline = time.monotonic() + 5
        while len(observed) < 3 and time.monotonic() < deadline:  # the late answer still reaches the metrics
            time.sleep(0.05)
        assert sorted(observed) == [(1, "ok"), (2, "ok"), (3, "ok")]
    finally:
        servers[0].delay[0] = 0.0
        hedged.close()
        patient.close()


def test_quota_exhaustion_is_429_at_the_holder_and_the_gateway_says_so(tmp_path, consortium) -> None:
    shares = split(KEY, T, N)
    servers = start_holders(tmp_path, consortium, shares, Quota(per_minute=8, per_day=1000))
    client = client_for(consortium, share_set(shares, servers))
    try:
        client.evaluate(INPUTS, "submit")  # 5 of 8 at each holder asked
        with pytest.raises(KeyshareUnavailable) as refused:
            client.evaluate(INPUTS, "submit")  # 10 > 8 at every holder
        assert refused.value.quota and "quota_exceeded" in str(refused.value)
        body, headers = signed(consortium, 1, elements=4)  # 5 used + 4 > 8; 3 more would still fit
        answer = httpx.post(f"{servers[0].url}/v1/evaluate", content=body, headers=headers)
        assert answer.status_code == 429 and answer.json()["error"]["code"] == "quota_exceeded"
        assert 1 <= int(answer.headers["Retry-After"]) <= 60
    finally:
        client.close()
        for server in servers:
            server.stop()


def signed(
    consortium: Consortium,
    holder_index: int,
    *,
    account: int = 3,
    elements: int = 1,
    purpose: str = "submit",
    inquiry: str | None = None,
    inquiries: int | None = None,
    stamp: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    from creditshare.core.oprf import blind

    request: dict[str, object] = {
        "request_id": os.urandom(32).hex(),
        "purpose": purpose,
        "inquiry": inquiry,
        "elements": [blind(INPUTS[0], Mode.VOPRF).element.hex() for _ in range(elements)],
    }
    if inquiries is not None:
        request["inquiries"] = [os.urandom(32).hex() for _ in range(inquiries)]
    body = json.dumps(request).encode()
    signer = consortium.accounts[account]
    stamp = int(time.time()) if stamp is None else stamp
    return body, {
        MEMBER_HEADER: signer.address,
        TIME_HEADER: str(stamp),
        SIGNATURE_HEADER: sign_request(signer.key, holder_index, stamp, body),
        "Content-Type": "application/json",
    }


def test_suspended_removed_or_unknown_members_are_refused(consortium, holders) -> None:
    _, servers = holders
    url = f"{servers[0].url}/v1/evaluate"
    body, headers = signed(consortium, 1)
    assert httpx.post(url, content=body, headers=headers).status_code == 200
    body, headers = signed(consortium, 1, account=9)  # a funded account never admitted
    answer = httpx.post(url, content=body, headers=headers)
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "not_active_member")
    consortium.enact(Action.SUSPEND, consortium.accounts[3].address)
    body, headers = signed(consortium, 1)
    answer = httpx.post(url, content=body, headers=headers)
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "not_active_member")


@pytest.mark.parametrize(
    ("tamper", "status", "code"),
    [
        ("other_body", 401, "bad_signature"),
        ("other_holder", 401, "bad_signature"),
        ("stale", 401, "stale_request"),
        ("no_signature", 401, "bad_signature"),
        ("replay", 409, "replayed_request"),
        ("query_without_inquiry", 422, "inquiry_required"),
        ("replay_inquiries", 409, "replayed_request"),
        ("inquiries_not_one_per_element", 422, "invalid_request"),
        ("inquiries_outside_query", 422, "invalid_request"),
        ("too_many", 422, "invalid_request"),
        ("not_a_point", 422, "invalid_element"),
    ],
)
def test_bad_requests_are_refused_and_logged_nowhere(consortium, holders, tamper, status, code) -> None:
    _, servers = holders
    url = f"{servers[0].url}/v1/evaluate"
    kwargs: dict[str, object] = {}
    if tamper == "stale":
        kwargs["stamp"] = int(time.time()) - 600
    if tamper == "query_without_inquiry":
        kwargs["purpose"] = "query"
    if tamper == "too_many":
        kwargs["elements"] = 257
    if tamper in ("replay_inquiries", "inquiries_not_one_per_element"):
        kwargs.update(purpose="query", elements=3, inquiries=3 if tamper == "replay_inquiries" else 2)
    if tamper == "inquiries_outside_query":
        kwargs.update(elements=2, inquiries=2)
    body, headers = signed(consortium, 2 if tamper == "other_holder" else 1, **kwargs)  # type: ignore[arg-type]
    if tamper == "other_body":
        body = body.replace(b'"submit"', b'"query" ')
    if tamper == "no_signature":
        del headers[SIGNATURE_HEADER]
    if tamper == "not_a_point":
        data = json.loads(body)
        data["elements"] = ["ff" * 32]
        body = json.dumps(data).encode()
        headers[SIGNATURE_HEADER] = sign_request(consortium.accounts[3].key, 1, int(headers[TIME_HEADER]), body)
    if tamper in ("replay", "replay_inquiries"):
        assert httpx.post(url, content=body, headers=headers).status_code == 200
    before = servers[0].holder.log_head().seq
    answer = httpx.post(url, content=body, headers=headers)
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    assert servers[0].holder.log_head().seq == before


def test_the_evaluation_log_chains_and_detects_a_rewrite(consortium, holders) -> None:
    shares, servers = holders
    client = client_for(consortium, share_set(shares, servers))
    try:
        for _ in range(3):
            client.evaluate(INPUTS, "query", inquiry=os.urandom(32))
    finally:
        client.close()
    factory = servers[0].holder._sessions
    with factory() as session:
        checked = evaluation_log.verify(session)
    assert checked.ok and checked.entries == 3
    head = servers[0].holder.log_head()
    assert head.seq == 3 and head.head == checked.head.hex()
    with transaction(factory) as session:  # a holder quietly shrinking what member 3 asked for
        session.execute(update(KeyshareLogEntry).where(KeyshareLogEntry.seq == 2).values(count=1))
    with factory() as session:
        assert evaluation_log.verify(session).broken_at == 2


def test_concurrent_reports_share_rounds_and_each_inquiry_is_logged(consortium, holders) -> None:
    """24 reports at once: fewer rounds than reports, every output right, and each holder that answered logs
    every report's look-up under that report's own inquiry, in one unbroken chain."""
    shares, servers = holders
    answers: list[tuple[int, str]] = []
    client = KeyshareClient(
        share_set(shares, servers), consortium.accounts[3], observe=lambda holder, code: answers.append((holder, code))
    )
    reports = 24
    inquiries = [os.urandom(32) for _ in range(reports)]
    outputs: dict[int, bytes] = {}
    barrier = threading.Barrier(reports)

    def report(i: int) -> None:
        barrier.wait()
        outputs[i] = client.evaluate([INPUTS[i % len(INPUTS)]], "query", inquiry=inquiries[i])[0]

    threads = [threading.Thread(target=report, args=(i,)) for i in range(reports)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        client.close()
    assert [outputs[i] for i in range(reports)] == [
        evaluate(KEY, INPUTS[i % len(INPUTS)], Mode.VOPRF) for i in range(reports)
    ]
    assert all(code == "ok" for _, code in answers)
    assert len(answers) < 2 * reports  # unshared, every report would cost t = 2 holder answers
    for server in servers:
        factory = server.holder._sessions
        with factory() as session:
            rows = session.scalars(select(KeyshareLogEntry)).all()
            assert evaluation_log.verify(session).ok
        if not rows:
            continue  # a holder no round needed
        logged = {row.inquiry: row.count for row in rows}
        assert all(row.purpose == "query" for row in rows)
        assert set(logged) <= set(inquiries) and all(count == 1 for count in logged.values())
    first = servers[0].holder._sessions
    with first() as session:
        assert {row.inquiry for row in session.scalars(select(KeyshareLogEntry))} == set(inquiries)


def test_share_files_round_trip_and_no_single_share_is_the_key(tmp_path) -> None:
    files = init(2, [("http://a", ZERO), ("http://b", ZERO), ("http://c", ZERO)])
    paths = [f.write(tmp_path / f"share{i}.json") for i, f in enumerate(files, 1)]
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in paths)
    loaded = [ShareFile.read(p) for p in paths]
    assert [f.share.index for f in loaded] == [1, 2, 3]
    assert loaded[0].share_set == files[0].share_set
    group_key = loaded[0].share_set.group_public_key
    assert all(group.base_mul(f.share.secret) != group_key for f in loaded)
    tampered = json.loads(paths[0].read_text())
    tampered["secret"] = loaded[1].share.secret.hex()
    paths[0].write_text(json.dumps(tampered))
    with pytest.raises(Exception, match="does not match its public key"):
        ShareFile.read(paths[0])
