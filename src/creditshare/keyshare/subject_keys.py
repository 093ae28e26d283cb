"""Subject keys v2 for a gateway: `OprfSource` turns a request's borrowers into `OprfKeys` with at most one round
trip to the key-share holders, and remembers the lender's own customers (submissions) in an encrypted cache.

Only `submit` outputs are cached: a report or a verification always goes to the holders, so every look-up of a
borrower is counted and logged there with its inquiry.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Collection, Iterable

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from creditshare.core.crypto import RecordCipher
from creditshare.core.db import in_chunks, transaction
from creditshare.core.db.tables import SubjectKeyCache
from creditshare.domain.identity import IdPair, KeyPurpose, OprfKeys, oprf_input
from creditshare.keyshare.client import KeyshareClient


def derived_key(record_key: bytes, purpose: str) -> bytes:
    """A lender-own key for `purpose`, derived from its record key (HMAC-SHA256 as a KDF: one block, one use)."""
    return hmac.digest(record_key, f"creditshare:{purpose}:v2".encode(), "sha256")


class SubjectCache:
    """The encrypted cache of this lender's customers' OPRF outputs (`core.db.tables.SubjectKeyCache`)."""

    def __init__(self, sessions: sessionmaker[Session], record_key: bytes) -> None:
        self._sessions = sessions
        self._lookup_key = derived_key(record_key, "subject-cache-lookup")
        self._cipher = RecordCipher(derived_key(record_key, "subject-cache-seal"))

    def _lookup(self, pair: IdPair) -> bytes:
        return hmac.digest(self._lookup_key, oprf_input(*pair), "sha256")

    def get_many(self, pairs: Collection[IdPair]) -> dict[IdPair, bytes]:
        by_lookup = {self._lookup(pair): pair for pair in pairs}
        found: dict[IdPair, bytes] = {}
        with self._sessions() as session:
            for chunk in in_chunks(list(by_lookup)):
                rows = session.execute(select(SubjectKeyCache).where(SubjectKeyCache.lookup.in_(chunk))).scalars()
                for row in rows:
                    found[by_lookup[row.lookup]] = self._cipher.open(row.sealed, row.lookup)
        return found

    def put_many(self, outputs: Iterable[tuple[IdPair, bytes]]) -> None:
        rows = []
        for pair, output in outputs:
            lookup = self._lookup(pair)
            rows.append({"lookup": lookup, "sealed": self._cipher.seal(output, lookup)})
        if not rows:
            return
        with transaction(self._sessions) as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            session.execute(insert(SubjectKeyCache).on_conflict_do_nothing(), rows)


class OprfSource:
    """`SubjectKeySource` of v2 keys: cached outputs of the lender's own customers, the rest from the holders."""

    version = 2

    def __init__(self, client: Callable[[], KeyshareClient], cache: SubjectCache) -> None:
        self._client = client
        self._cache = cache

    def record_keys(self, ids: Collection[IdPair], purpose: KeyPurpose, inquiry: bytes | None = None) -> OprfKeys:
        """Raises `KeyshareUnavailable` when fewer than t holders answer (nothing is cached or stored then)."""
        pairs = sorted(set(ids))
        outputs = self._cache.get_many(pairs) if purpose is KeyPurpose.SUBMIT else {}
        missing = [pair for pair in pairs if pair not in outputs]
        if missing:
            got = self._client().evaluate([oprf_input(*pair) for pair in missing], purpose.value, inquiry)
            fresh = dict(zip(missing, got, strict=True))
            if purpose is KeyPurpose.SUBMIT:
                self._cache.put_many(fresh.items())
            outputs.update(fresh)
        return OprfKeys(outputs)
