"""Group commit on a real SQLite file: concurrent pieces of work share transactions, each caller returns only
once its own work is committed, and one faulty piece of work fails alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditshare.core.db import Sessions, make_engine, session_factory
from creditshare.core.db.group_commit import GroupCommit
from creditshare.core.db.tables import AuditEntry
from creditshare.read.audit import AuditLog, AuditRecord, AuditRequest, append_in

REQUEST = AuditRequest("c", "report", "loan_application")


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[Sessions]:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    yield session_factory(engine)
    engine.dispose()


def committed_ids(factory: Sessions) -> list[int]:
    """What another connection sees: committed rows only."""
    with factory() as session:
        return list(session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))


def run_together(count: int, target: object) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def worker(i: int) -> None:
        barrier.wait()
        try:
            target(i)  # type: ignore[operator]
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_concurrent_work_shares_commits_and_each_caller_sees_its_own_committed(factory: Sessions) -> None:
    sizes: list[int] = []
    commits = GroupCommit(factory, on_commit=sizes.append)
    seen_after_return: dict[int, bool] = {}

    def work(i: int) -> None:
        def write(session: Session) -> int:
            if i == 0:
                time.sleep(0.2)  # the first transaction is slow: the others queue behind it
            return append_in(session, REQUEST).id

        entry_id = commits.run(write)
        seen_after_return[i] = entry_id in committed_ids(factory)

    try:
        assert run_together(40, work) == []
    finally:
        commits.close()
    assert committed_ids(factory) == list(range(1, 41))
    assert all(seen_after_return.values()) and len(seen_after_return) == 40
    assert sum(sizes) == 40 and len(sizes) < 40 and max(sizes) > 1  # shared transactions
    assert AuditLog(factory).verify() == []


def test_a_faulty_piece_of_work_fails_alone(factory: Sessions) -> None:
    commits = GroupCommit(factory)
    results: dict[int, object] = {}

    def work(i: int) -> None:
        def write(session: Session) -> int:
            if i == 0:
                time.sleep(0.2)
            record = append_in(session, replace(REQUEST, caller=f"c{i}"))
            if i == 7:
                raise ValueError("bad request 7")
            return record.id

        try:
            results[i] = commits.run(write)
        except ValueError as exc:
            results[i] = exc

    try:
        assert run_together(20, work) == []
    finally:
        commits.close()
    assert isinstance(results[7], ValueError)
    assert sorted(v for k, v in results.items() if k != 7) == list(range(1, 20))  # type: ignore[type-var]
    with factory() as session:
        callers = set(session.scalars(select(AuditEntry.caller)))
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 19
    assert "c7" not in callers
    assert AuditLog(factory).verify() == []


def test_report_entry_and_its_inquiry_commit_together_or_not_at_all(factory: Sessions) -> None:
    """`AuditLog.append_with`: when the second write fails, the audit entry is not kept either."""
    audit = AuditLog(factory)

    def failing_inquiry(session: Session, entry: AuditRecord) -> int:
        raise RuntimeError("outbox refused")

    with pytest.raises(RuntimeError, match="outbox refused"):
        audit.append_with(REQUEST, failing_inquiry)
    assert committed_ids(factory) == []
    record, hashed = audit.append_with(REQUEST, lambda session, entry: entry.entry_hash)
    assert record.id == 1 and hashed == record.entry_hash
    audit.commits.close()


def test_a_closed_group_commit_refuses_work(factory: Sessions) -> None:
    commits = GroupCommit(factory)
    assert commits.run(lambda session: append_in(session, REQUEST).id) == 1
    commits.close()
    with pytest.raises(RuntimeError, match="closed"):
        commits.run(lambda session: 0)
