"""The hash-chained audit log in a real SQLite file: appends, tamper detection (edited and deleted entries), and
the `creditshare audit verify|export` commands as an operator runs them."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from creditshare.core.db import make_engine, session_factory
from creditshare.read.audit import FIELDS, GENESIS, AuditLog, AuditRecord, AuditRequest, entry_hash

COLUMNS = (*FIELDS, "prev_hash", "entry_hash")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "gateway.db"


@pytest.fixture
def factory(db_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{db_path}")
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def audit(factory: sessionmaker[Session]) -> AuditLog:
    return AuditLog(factory)


def append_some(audit: AuditLog, count: int) -> list[AuditRecord]:
    """Alternate report and verify entries, as the API appends them."""
    records = []
    for i in range(count):
        if i % 2 == 0:
            records.append(
                audit.append(
                    AuditRequest(f"client-{i}", "report", "loan_application", f"{i:064x}", f"{i + 1000:064x}", i)
                )
            )
        else:
            records.append(audit.append(AuditRequest("verifier", "verify", result_size=1)))
    return records


def raw_rows(db_path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(db_path) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_log ORDER BY id")]


def tamper(db_path: Path, sql: str, *args: Any) -> None:
    """Change the database behind the application's back, as someone with file access would."""
    with sqlite3.connect(db_path) as db:
        assert db.execute(sql, args).rowcount == 1


def run_cli(db_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITSHARE_")}
    env.update(CREDITSHARE_HOME=str(db_path.parent), CREDITSHARE_DATABASE_URL=f"sqlite:///{db_path}")
    return subprocess.run(
        [sys.executable, "-m", "creditshare.cli", "audit", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


# ---------------------------------------------------------------------------------------------------- append/verify


def test_append_entries_form_hash_chain_and_verify_ok(audit: AuditLog, db_path: Path) -> None:
    records = append_some(audit, 5)

    assert [r.id for r in records] == [1, 2, 3, 4, 5]
    rows = raw_rows(db_path)
    prev = GENESIS
    for record, row in zip(records, rows, strict=True):
        assert row["prev_hash"] == prev
        assert row["entry_hash"] == record.entry_hash == entry_hash(prev, {k: row[k] for k in FIELDS})
        prev = row["entry_hash"]
    assert rows[0]["action"] == "report" and rows[0]["purpose"] == "loan_application"
    assert rows[1]["action"] == "verify" and rows[1]["subject_key"] is None
    assert audit.verify() == []


def test_append_concurrent_writers_keep_one_unbroken_chain(db_path: Path) -> None:
    """Two engines on the file (two processes' worth) appending from several threads: no fork, no gap."""
    engines = [make_engine(f"sqlite:///{db_path}") for _ in range(2)]
    logs = [AuditLog(session_factory(e)) for e in engines]
    errors: list[BaseException] = []

    def work(log: AuditLog) -> None:
        try:
            append_some(log, 10)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(logs[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        assert [r["id"] for r in raw_rows(db_path)] == list(range(1, 41))
        assert logs[0].verify() == []
    finally:
        for engine in engines:
            engine.dispose()


def test_verify_edited_field_names_that_entry(audit: AuditLog, db_path: Path) -> None:
    append_some(audit, 5)
    tamper(db_path, "UPDATE audit_log SET result_size = result_size + 1 WHERE id = 3")

    assert audit.verify() == ["entry 3: content does not match its hash (edited)"]


@pytest.mark.parametrize(
    ("column", "value"),
    [("caller", "someone-else"), ("purpose", "post_loan"), ("subject_key", "ab" * 32), ("at", "2020-01-01T00:00")],
)
def test_verify_any_edited_field_detected(audit: AuditLog, db_path: Path, column: str, value: str) -> None:
    append_some(audit, 4)
    tamper(db_path, f"UPDATE audit_log SET {column} = ? WHERE id = 1", value)

    problems = audit.verify()

    assert problems and problems[0].startswith("entry 1: content does not match")


def test_verify_deleted_middle_entry_reports_broken_link(audit: AuditLog, db_path: Path) -> None:
    append_some(audit, 5)
    tamper(db_path, "DELETE FROM audit_log WHERE id = 3")

    problems = audit.verify()

    assert problems == [
        "entry 3..3 missing (deleted?)",
        "entry 4: link to the previous entry broken (an entry was deleted or edited)",
    ]


def test_verify_rewritten_hash_breaks_next_link(audit: AuditLog, db_path: Path) -> None:
    """Recomputing an edited entry's own hash does not help: the next entry still links to the old one."""
    append_some(audit, 4)
    row = raw_rows(db_path)[1]
    row["result_size"] = 99
    tamper(
        db_path,
        "UPDATE audit_log SET result_size = 99, entry_hash = ? WHERE id = 2",
        entry_hash(row["prev_hash"], {k: row[k] for k in FIELDS}),
    )

    assert audit.verify() == ["entry 3: link to the previous entry broken (an entry was deleted or edited)"]


# ---------------------------------------------------------------------------------------------------- CLI


def test_audit_verify_cli_intact_exits_0(audit: AuditLog, db_path: Path) -> None:
    append_some(audit, 3)

    result = run_cli(db_path, "verify")

    assert result.returncode == 0, result.stderr
    assert "audit log intact" in result.stdout


def test_audit_verify_cli_tampered_exits_1_naming_the_entry(audit: AuditLog, db_path: Path) -> None:
    append_some(audit, 4)
    tamper(db_path, "UPDATE audit_log SET caller = 'intruder' WHERE id = 2")

    result = run_cli(db_path, "verify")

    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: audit log tampered: 1 problem(s), first: entry 2: content does not match its hash")
    assert "audit log intact" not in result.stdout


def test_audit_verify_cli_tampered_prints_one_line(audit: AuditLog, db_path: Path) -> None:
    append_some(audit, 4)
    tamper(db_path, "UPDATE audit_log SET caller = 'intruder' WHERE id = 2")

    result = run_cli(db_path, "verify")

    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_audit_export_cli_writes_every_entry_with_hashes(
    audit: AuditLog, db_path: Path, tmp_path: Path, fmt: str
) -> None:
    append_some(audit, 5)
    out = tmp_path / f"audit.{fmt}"

    result = run_cli(db_path, "export", "--out", str(out), "--format", fmt)

    assert result.returncode == 0, result.stderr
    assert f"wrote 5 entries to {out}" in result.stdout.replace("\n", "")
    expected = raw_rows(db_path)
    if fmt == "json":
        assert json.loads(out.read_text(encoding="utf-8")) == expected
    else:
        with out.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            assert tuple(reader.fieldnames or ()) == COLUMNS
            exported = list(reader)
        # CSV has no types: ids and sizes come back as text, NULLs as empty strings.
        assert exported == [{k: "" if v is None else str(v) for k, v in row.items()} for row in expected]
    assert [r["entry_hash"] for r in expected] == [e.entry_hash for e in audit.entries()]


def test_audit_export_cli_unknown_format_exits_1(audit: AuditLog, db_path: Path, tmp_path: Path) -> None:
    append_some(audit, 1)
    out = tmp_path / "audit.xml"

    result = run_cli(db_path, "export", "--out", str(out), "--format", "xml")

    assert result.returncode == 1
    assert "--format must be csv or json" in result.stderr
    assert not out.exists()
