"""The settler thread never touches the preparing thread's sequence.

A batch reverted by a suspension used to set the submitter's next sequence to None from the settler thread. When
that landed while the preparing thread was between taking items and signing them, `_send_batch` found no sequence
and raised an AssertionError: `/readyz` said `internal error: AssertionError()` instead of `suspended` (seen once
in CI, in tests/api/test_submit_api.py). Here the interleaving is forced: the settler is held until the preparing
thread has passed its check of settled batches, then released while it reads the outbox.
"""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from creditshare.chain.governance import Action
from creditshare.core.config import Settings
from creditshare.devtools.devchain import DevChain
from creditshare.gateway import Gateway
from creditshare.write.batches import PendingItem
from creditshare.write.submitter import WriterBlocked
from tests.support import Consortium
from tests.support.gateways import GatewayEnv
from tests.support.records import build_record


def test_a_batch_refused_by_a_suspension_while_the_next_is_prepared_waits_and_lands(
    tmp_path: Path, consortium: Consortium, accounts: list[LocalAccount], devchain: DevChain
) -> None:
    lender = accounts[3]
    env = GatewayEnv(tmp_path / "gateway", lender, devchain.rpc_url, consortium.deployment)
    gateway = Gateway(Settings.from_env(env.environ(), submitter=False, index=False))
    try:
        submitter = gateway.submitter
        # The membership check stays valid for the whole test, so batches are signed after the suspension.
        submitter.config = replace(submitter.config, batch_interval=0.0, writer_check_seconds=3600)
        submit = gateway.outbox.submit_events
        ids = [o.event_id for o in submit([build_record()])]
        assert submitter.lease.hold()
        assert submitter.step()  # recovers, checks the writer (active) and sends batch 0
        submitter.drain()

        consortium.enact(Action.SUSPEND, lender.address)
        held = threading.Event()
        submitter._settler.submit(held.wait)  # the next batch's settling waits behind this
        ids += [o.event_id for o in submit([build_record()])]
        assert submitter.step()  # batch 1 is signed and sent; the chain refuses it (LedgerNotActiveLender)

        real_pending = submitter._store.pending

        def pending_once_settled(limit: int) -> list[PendingItem]:
            """Let batch 1 settle after `_reap` looked (it was not done) and before this step signs."""
            held.set()
            futures.wait([future for future, _ in submitter._inflight])
            return real_pending(limit)

        submitter._store.pending = pending_once_settled  # type: ignore[method-assign]
        ids += [o.event_id for o in submit([build_record()])]
        with pytest.raises(WriterBlocked, match="LedgerNotActiveLender"):  # was: AssertionError, mid-step
            for _ in range(3):
                submitter.step()
        submitter._store.pending = real_pending  # type: ignore[method-assign]
        submitter.drain()
        assert gateway.outbox.status_counts(ids) == {"confirmed": 1, "pending": 2}  # waiting, not failed

        consortium.enact(Action.REINSTATE, lender.address)
        stop = threading.Event()
        worker = threading.Thread(target=submitter.run, args=(stop,))
        worker.start()
        try:
            assert gateway.outbox.wait_settled(ids, timeout=60) == {"confirmed": 3}
        finally:
            stop.set()
            worker.join(timeout=30)
        assert submitter.last_error is None or "AssertionError" not in submitter.last_error
    finally:
        gateway.stop()
