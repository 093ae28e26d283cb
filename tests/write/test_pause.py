"""A pause (or a suspension) is reversible, so it loses nothing: batches in flight when it lands revert with
`LedgerPaused`, their records go back to wait in the outbox, and after the unpause every record is on chain
exactly once. (They used to be marked failed, and their record ids could never be sent again.)

Mining is stopped (Ganache's `miner_stop`, a test-only control) while the gateway signs and sends four full
batches, so they wait in the node's pool; the governor's pause goes in at a higher gas price, so the node orders it
first in the block that mining then makes.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from creditshare.chain import governance
from creditshare.chain.governance import ZERO_ADDRESS as ZERO
from creditshare.chain.governance import Action
from creditshare.chain.rpc import connect
from creditshare.chain.transactor import Transactor
from creditshare.core.db import make_engine, session_factory
from creditshare.core.db.tables import Batch
from creditshare.devtools.devchain import DevChain, dev_accounts, free_port
from tests.support import Consortium
from tests.support.gateways import GatewayEnv, GatewayProcess, wait_until
from tests.write.test_faults import (
    assert_exactly_once,
    assert_no_internal_errors,
    launch,
    make_records,
    post_accepted,
    record_hashes,
    status_counts,
    wait_all_confirmed,
)

BATCH = 256


@pytest.mark.slow
def test_pause_with_four_full_batches_in_flight_all_confirmed_after_unpause(
    tmp_path: Path, gateways: list[GatewayProcess]
) -> None:
    chain = DevChain(port=free_port(), log_file=tmp_path / "chain.log")
    chain.start()
    try:
        w3 = connect(chain.rpc_url)
        accounts = dev_accounts(chain.accounts)
        consortium = Consortium.deploy(w3, accounts, governors=accounts[:1], threshold=1)
        lender = accounts[3]
        consortium.admit_lender(lender, "Paused Lender")
        env = GatewayEnv(
            tmp_path / "gateway",
            lender,
            chain.rpc_url,
            consortium.deployment,
            extra={"CREDITSHARE_BATCH_SIZE": str(BATCH), "CREDITSHARE_BATCH_INTERVAL": "0.1"},
        )
        key = env.add_client("loans", "submit")
        launch(env, gateways)
        engine = make_engine(env.database)

        assert httpx.get(env.url + "/readyz", timeout=10).status_code == 200
        w3.provider.make_request("miner_stop", [])  # type: ignore[arg-type]
        records = make_records("PAUSE", 4 * BATCH)
        for i in range(0, len(records), BATCH):
            post_accepted(env.url, key, records[i : i + BATCH])
        # All four batches signed and sent: every record `submitted`, none mined.
        wait_until(lambda: status_counts(engine, lender.address).get("submitted") == len(records), timeout=30)

        urgent = Transactor(w3, accounts[0], gas_price=10 * w3.eth.gas_price)
        pause = urgent.sign(consortium.registry.functions.propose(int(Action.PAUSE), ZERO, 0, 0, ""), gas=300_000)
        urgent.send_raw(pause.raw)
        w3.provider.make_request("miner_start", [])  # type: ignore[arg-type]
        wait_until(lambda: consortium.registry.functions.paused().call(), timeout=30)

        def refused() -> int:
            with session_factory(engine)() as session:
                return len(session.scalars(select(Batch.id).where(Batch.error_code == "ledger_paused")).all())

        wait_until(lambda: refused() >= 1, timeout=60)
        wait_until(lambda: status_counts(engine, lender.address).get("submitted", 0) == 0, timeout=60)
        waiting = status_counts(engine, lender.address)
        assert waiting.get("failed", 0) == 0, waiting  # nothing given up on
        assert waiting.get("pending", 0) >= BATCH, waiting  # at least one batch's records wait

        governance.propose(consortium.registry, Transactor(w3, accounts[0]), Action.UNPAUSE)
        wait_all_confirmed(engine, lender.address, len(records), env.home)
        summary = assert_exactly_once(consortium, lender.address, record_hashes(records, lender.address), engine)
        assert_no_internal_errors(env.home)
        print(f"pause with {4 * BATCH} records in flight: {refused()} batch(es) refused by the pause, then {summary}")
        engine.dispose()
    finally:
        chain.stop()
