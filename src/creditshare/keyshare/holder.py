"""A key-share holder: checks who is asking and why, applies the quota, evaluates, logs.

The holder never sees an ID — only blinded points, which are uniformly random to it — so what it can protect is
*how many* evaluations each member gets: every answer is counted against the member's per-minute and per-day
quota and written to the hash-chained log before it is returned.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from web3.contract import Contract

from creditshare.chain.governance import Role
from creditshare.chain.rpc import translate_errors
from creditshare.core.db import transaction
from creditshare.core.exceptions import ChainError
from creditshare.core.oprf import InvalidElementError, Share, partial_evaluate
from creditshare.keyshare import evaluation_log
from creditshare.keyshare.errors import (
    BadSignature,
    InquiryRequired,
    InvalidElement,
    NotActiveMember,
    QuotaExceeded,
    ReplayedRequest,
    StaleRequest,
)
from creditshare.keyshare.wire import (
    MAX_CLOCK_SKEW,
    MEMBER_HEADER,
    SIGNATURE_HEADER,
    TIME_HEADER,
    EvaluateRequest,
    EvaluateResponse,
    LogHead,
    recover_signer,
)

#: Is this address an active lender right now? (The registry, behind a short cache.)
MembershipCheck = Callable[[str], bool]


@dataclass(frozen=True)
class Quota:
    """Points one member may have evaluated per minute and per day at one holder."""

    per_minute: int
    per_day: int


class CachedMembership:
    """`MembershipCheck` over a slower one, remembering each answer for `ttl` seconds: a suspension reaches the
    holder within `ttl`, and a burst of requests costs one registry read. An answer past half its life is
    refreshed in the background, so a steady caller never waits for the chain. While the chain cannot be read, an
    answer up to `stale` seconds old still stands (a node restart does not stop every gateway); older, the
    `ChainError` goes to the caller."""

    def __init__(
        self,
        check: MembershipCheck,
        ttl: float = 5.0,
        stale: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check, self._ttl, self._stale, self._clock = check, ttl, stale, clock
        self._cache: dict[str, tuple[float, bool]] = {}
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, address: str) -> bool:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(address)
            if hit is not None and now - hit[0] < self._ttl:
                if now - hit[0] >= self._ttl / 2 and address not in self._refreshing:
                    self._refreshing.add(address)
                    threading.Thread(target=self._refresh, args=(address,), daemon=True).start()
                return hit[1]
        try:
            active = self._check(address)
        except ChainError:
            if hit is not None and now - hit[0] < self._stale:
                return hit[1]
            raise
        with self._lock:
            self._cache[address] = (now, active)
        return active

    def _refresh(self, address: str) -> None:
        started = self._clock()
        try:
            active = self._check(address)
            with self._lock:
                self._cache[address] = (started, active)
        except ChainError:  # the next caller past the ttl tries again (and falls back to the stale answer)
            pass
        finally:
            with self._lock:
                self._refreshing.discard(address)


class Holder:
    """Answers evaluation requests with one share."""

    def __init__(
        self,
        share: Share,
        sessions: sessionmaker[Session],
        is_active_lender: MembershipCheck,
        quota: Quota,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.share = share
        self._sessions = sessions
        self._is_active = is_active_lender
        self._quota = quota
        self._clock = clock
        self._write = threading.Lock()  # one log writer per holder process (the log is a chain)
        self._head: tuple[int, bytes] | None = None  # the log's (seq, hash), known to the writer

    @property
    def index(self) -> int:
        return self.share.index

    def authenticate(self, headers: Mapping[str, str], body: bytes) -> str:
        """The active lender that signed this request, or the reason it is refused."""
        member, stamp, signature = (headers.get(h) for h in (MEMBER_HEADER, TIME_HEADER, SIGNATURE_HEADER))
        if not (member and stamp and signature) or not stamp.isdigit() or len(stamp) > 12:
            raise BadSignature(f"sign the request: headers {MEMBER_HEADER}, {TIME_HEADER}, {SIGNATURE_HEADER}")
        if abs(self._clock() - int(stamp)) > MAX_CLOCK_SKEW:
            raise StaleRequest(f"request time is more than {MAX_CLOCK_SKEW} s from the holder's clock")
        signer = recover_signer(signature, self.index, int(stamp), body)
        if signer is None or signer.lower() != member.lower():
            raise BadSignature(f"the signature is not {member}'s over this body for holder {self.index}")
        if not self._is_active(signer):
            raise NotActiveMember(f"{signer} is not an active lender of the consortium")
        return signer

    def evaluate(self, member: str, body: bytes) -> EvaluateResponse:
        """Check, count, log and answer one request from an authenticated member."""
        request = EvaluateRequest.model_validate_json(body)  # pydantic's ValidationError: the API answers 422
        if request.purpose == "query" and request.inquiry is None and request.inquiries is None:
            raise InquiryRequired("a query evaluation must name its inquiry")
        try:
            partial = partial_evaluate(self.share, [bytes.fromhex(e) for e in request.elements])
        except InvalidElementError:
            raise InvalidElement("an element is not a canonical ristretto255 point (or is the identity)") from None
        request_id = bytes.fromhex(request.request_id)
        now = int(self._clock())
        per_inquiry = Counter(request.element_inquiries())  # one log entry per inquiry, in order of appearance
        with self._write:
            try:
                with transaction(self._sessions) as session:
                    after = self._head or evaluation_log.head(session)
                    first_seq = after[0] + 1
                    self._check_quota(session, member, len(request.elements), now)
                    for n, (inquiry, count) in enumerate(per_inquiry.items()):
                        entry_id = request_id if n == 0 else evaluation_log.nth_request_id(request_id, n)
                        entry = evaluation_log.Entry(0, entry_id, now, member, request.purpose, inquiry, count)
                        entry, digest = evaluation_log.append(session, entry, after)
                        after = (entry.seq, digest)
                    session.flush()  # a replayed request id collides here, before anything is answered
            except IntegrityError:
                self._head = None
                raise ReplayedRequest("this request id was already answered") from None
            except BaseException:
                self._head = None
                raise
            self._head = after
        return EvaluateResponse(
            index=partial.index,
            elements=[e.hex() for e in partial.elements],
            proof=partial.proof.to_bytes().hex(),
            log_seq=first_seq,
        )

    def _check_quota(self, session: Session, member: str, count: int, now: int) -> None:
        minute, day = evaluation_log.used(session, member, now)
        for used, window, limit, name in (
            (minute, 60, self._quota.per_minute, "minute"),
            (day, 86_400, self._quota.per_day, "day"),
        ):
            if used + count > limit:
                raise QuotaExceeded(
                    f"{member} has used {used} of {limit} evaluations this {name} at holder {self.index}",
                    retry_after=window if count > limit else _retry_after(session, member, now, window),
                )

    def log_head(self) -> LogHead:
        """The newest log entry and the newest head anchored on chain."""
        with self._sessions() as session:
            seq, head = evaluation_log.head(session)
            anchor = evaluation_log.last_anchor(session)
            return LogHead(
                index=self.index,
                seq=seq,
                head=head.hex(),
                anchored_seq=anchor.seq if anchor else 0,
                anchored_head=anchor.head.hex() if anchor else None,
            )


def _retry_after(session: Session, member: str, now: int, window: int) -> int:
    """Seconds until the oldest counted entry of `member` leaves the window (at least 1)."""
    oldest = evaluation_log.oldest_since(session, member, now - window + 1)
    return max(1, (oldest if oldest is not None else now) + window - now)


def registry_membership(registry: Contract) -> MembershipCheck:
    """`MembershipCheck` reading the registry (`isActive(address, Lender)`); chain failures raise `ChainError`."""

    def is_active_lender(address: str) -> bool:
        with translate_errors():
            return bool(registry.functions.isActive(address, int(Role.LENDER)).call())

    return is_active_lender
