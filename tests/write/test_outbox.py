"""The outbox on a real database (SQLite and PostgreSQL): record ids seen again, records that failed for good,
and rows edited in the database behind the gateway's back.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hexbytes import HexBytes
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from creditshare.chain.signers import lane_start
from creditshare.chain.transactor import SignedTx
from creditshare.core.crypto import RecordCipher
from creditshare.core.db import make_engine, session_factory, transaction
from creditshare.core.db.tables import AuditEntry, Batch, OutboxItem
from creditshare.core.secrets import ConsortiumSecret
from creditshare.domain.identity import HmacKeys, HmacSource
from creditshare.domain.status import ItemStatus, RecordStatus
from creditshare.read.audit import AuditLog, AuditRequest
from creditshare.write.batches import BatchStore, ItemsTaken
from creditshare.write.lanes import LanePlan
from creditshare.write.outbox import Outbox
from creditshare.write.reseal import reseal_legacy
from creditshare.write.seal import RowSeal, columns_of
from tests.support.gateways import TEST_SECRET_HEX
from tests.support.holders import LocalOprfSource
from tests.support.records import build_record, numbered_resident_id

LENDER = "0x" + "cd" * 20
SECRET = ConsortiumSecret(1, bytes.fromhex(TEST_SECRET_HEX))


@pytest.fixture(params=["sqlite", "postgresql"])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path / 'gateway.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    request.addfinalizer(engine.dispose)
    return session_factory(engine)


@pytest.fixture
def cipher() -> RecordCipher:
    return RecordCipher(os.urandom(32))


@pytest.fixture
def outbox(factory: sessionmaker[Session], cipher: RecordCipher) -> Outbox:
    return Outbox(factory, cipher, LENDER, LocalOprfSource())


def test_submit_same_record_again_is_duplicate_with_its_event_id(outbox: Outbox) -> None:
    record = build_record()
    (first,) = outbox.submit_events([record])
    # the same record, its ID spelt another way (lower-case x, spaces): still the same record
    again = {**record, "id_number": " " + record["id_number"].lower() + " "}
    (second,) = outbox.submit_events([again])
    assert (first.status, second.status, second.event_id) == (
        RecordStatus.ACCEPTED,
        RecordStatus.DUPLICATE,
        first.event_id,
    )


@pytest.mark.parametrize(
    "change",
    [{"principal_fen": 5_000_001}, {"occurred_on": "2025-03-02"}, {"id_number": numbered_resident_id(5)}],
    ids=["amount", "date", "borrower"],
)
def test_submit_record_id_again_with_other_content_is_a_conflict_and_changes_nothing(
    outbox: Outbox, factory: sessionmaker[Session], change: dict[str, object]
) -> None:
    record = build_record()
    (first,) = outbox.submit_events([record])
    with factory() as session:
        stored = session.get(OutboxItem, first.event_id)
        assert stored is not None
        before = (stored.record_hash, stored.payload)

    (second,) = outbox.submit_events([{**record, **change}])

    assert (second.status, second.code, second.field) == (RecordStatus.REJECTED, "record_id_conflict", "record_id")
    assert record["id_number"] not in (second.message or "")
    with factory() as session:
        stored = session.get(OutboxItem, first.event_id)
        assert stored is not None and (stored.record_hash, stored.payload) == before
    assert outbox.open_record(stored)["principal_fen"] == record["principal_fen"]


def test_submit_record_id_again_with_invalid_content_is_rejected_for_it(outbox: Outbox) -> None:
    record = build_record()
    outbox.submit_events([record])
    (again,) = outbox.submit_events([{**record, "id_number": "110105194912310021"}])  # bad check character
    assert (again.status, again.code) == (RecordStatus.REJECTED, "invalid_check_character")


def test_submit_conflict_within_one_request_keeps_the_first(outbox: Outbox) -> None:
    record = build_record()
    first, twin, other = outbox.submit_events([record, dict(record), {**record, "principal_fen": 1}])
    assert first.status == RecordStatus.ACCEPTED
    assert (twin.status, twin.event_id) == (RecordStatus.DUPLICATE, first.event_id)
    assert (other.status, other.code) == (RecordStatus.REJECTED, "record_id_conflict")


def test_submit_record_id_of_a_record_failed_for_good_stores_the_new_record(
    outbox: Outbox, factory: sessionmaker[Session]
) -> None:
    record = build_record()
    (first,) = outbox.submit_events([record])
    with transaction(factory) as session:
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.id == first.event_id)
            .values(status=ItemStatus.FAILED, error_code="signer_not_active_lender", retryable=False)
        )

    (again,) = outbox.submit_events([{**record, "principal_fen": 7_000_000}])

    assert (again.status, again.event_id) == (RecordStatus.ACCEPTED, first.event_id)
    item = outbox.get(first.event_id)
    assert item is not None and (item.status, item.error_code, item.attempts) == (ItemStatus.PENDING, None, 1)
    assert outbox.open_record(item)["principal_fen"] == 7_000_000
    (third,) = outbox.submit_events([{**record, "principal_fen": 7_000_000}])
    assert (third.status, third.event_id) == (RecordStatus.DUPLICATE, first.event_id)


@pytest.mark.parametrize("column", ["subject_key", "item_key", "record_hash", "data_word"])
def test_row_edited_in_the_database_no_longer_opens_its_seal(
    outbox: Outbox, factory: sessionmaker[Session], cipher: RecordCipher, column: str
) -> None:
    (accepted,) = outbox.submit_events([build_record()])
    seal = RowSeal(cipher, LENDER)
    store = BatchStore(factory, LENDER, lambda session: None)
    (pending,) = store.pending(10)
    assert seal.intact(pending.payload, pending.columns)

    with transaction(factory) as session:
        session.execute(update(OutboxItem).where(OutboxItem.id == accepted.event_id).values({column: os.urandom(32)}))

    (forged,) = store.pending(10)
    assert not seal.intact(forged.payload, forged.columns)


def test_reseal_legacy_rows_checks_them_and_refuses_forged_ones(
    factory: sessionmaker[Session], cipher: RecordCipher
) -> None:
    outbox = Outbox(factory, cipher, LENDER, HmacSource(SECRET))  # rows of version 1 predate subject keys v2
    """Rows stored before every column was bound (version 1) are checked against their sealed record once and
    sealed again; one whose columns were edited fails as `tampered_row` and is never handed to the submitter."""
    honest, forged, edited = (build_record() for _ in range(3))
    outcomes = outbox.submit_events([honest, forged, edited])
    audit = AuditLog(factory)
    entry = audit.append(AuditRequest("t", "report", "loan_application", "aa" * 32, "bb" * 32))
    with transaction(factory) as session:
        inquiry = outbox.queue_inquiry(
            session, bytes.fromhex("bb" * 32), 1, bytes.fromhex("aa" * 32), bytes.fromhex(entry.entry_hash)
        )
    seal = RowSeal(cipher, LENDER)
    with transaction(factory) as session:  # as the old code stored them: version 1
        for item in session.scalars(select(OutboxItem)):
            plaintext = seal.open(item.payload, columns_of(item, None))
            item.payload = cipher.seal(plaintext, seal.legacy_associated_data(item.record_id))
            item.seal_version = 1
        session.get(OutboxItem, outcomes[1].event_id).subject_key = os.urandom(32)  # type: ignore[union-attr]
        session.get(OutboxItem, outcomes[2].event_id).data_word = bytes(32)  # type: ignore[union-attr]
    store = BatchStore(factory, LENDER, lambda session: None)
    assert store.pending(10) == []  # nothing of version 1 is handed out before the check

    result = reseal_legacy(factory, seal, LENDER, HmacKeys(SECRET))

    assert result.resealed == 2 and sorted(result.refused) == sorted([outcomes[1].event_id, outcomes[2].event_id])
    assert {p.id for p in store.pending(10)} == {outcomes[0].event_id, inquiry}
    assert all(seal.intact(p.payload, p.columns) for p in store.pending(10))
    with factory() as session:
        refused = session.scalars(select(OutboxItem).where(OutboxItem.id.in_(result.refused))).all()
        assert {(r.status, r.error_code) for r in refused} == {(ItemStatus.FAILED, "tampered_row")}
        assert session.scalar(select(AuditEntry.id)) is not None


def test_lanes_share_the_outbox_and_claim_each_item_once(outbox: Outbox, factory: sessionmaker[Session]) -> None:
    """Lanes of one lender split the pending items between them (id mod lanes), and a batch can claim only items
    still pending: a lane that read an item another lane took stores nothing (`ItemsTaken`)."""
    outcomes = outbox.submit_events([build_record() for _ in range(9)])
    ids = sorted(o.event_id for o in outcomes if o.event_id is not None)
    plan = LanePlan([0, 1, 2])
    stores = [
        BatchStore(factory, LENDER, lambda session: None, lane, lambda lane=lane: plan.share(lane)) for lane in range(3)
    ]
    shares = [{p.id for p in store.pending(100)} for store in stores]
    assert set().union(*shares) == set(ids) and sum(len(s) for s in shares) == len(ids)  # a partition
    assert all(i % 3 == lane for lane, share in enumerate(shares) for i in share)

    plan.retire(2)  # lane 2's signer was removed: lanes 0 and 1 take everything from now on
    assert stores[2].pending(100) == []
    assert {p.id for p in stores[0].pending(100)} | {p.id for p in stores[1].pending(100)} == set(ids)

    def signed(nonce: int) -> SignedTx:
        return SignedTx(HexBytes(os.urandom(100)), "0x" + os.urandom(32).hex(), nonce)

    taken = sorted(shares[0])
    stores[0].store_signed(0, signed(0), taken, 0, os.urandom(32))
    # Lane 1, with a stale view (a gateway restarted with other keys), tries two of the same items and one new.
    stale = [*taken[:2], sorted(shares[1])[0]]
    with pytest.raises(ItemsTaken):
        stores[1].store_signed(lane_start(1), signed(0), stale, 0, os.urandom(32))
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Batch)) == 1  # nothing of lane 1's attempt stored
        rows = session.execute(select(OutboxItem.id, OutboxItem.status, OutboxItem.batch_index)).all()
    assert {i: (status, index) for i, status, index in rows if i in stale} == {
        taken[0]: (ItemStatus.SUBMITTED, 0),
        taken[1]: (ItemStatus.SUBMITTED, 1),
        stale[2]: (ItemStatus.PENDING, None),
    }
    # Each lane sees only its own batches.
    assert [b.seq for b in stores[0].open_batches()] == [0] and stores[1].open_batches() == []
