"""The gateway's side of the threshold OPRF: blind, ask t holders at once, verify each answer as it arrives, fall
over to the next holder on any failure, combine and unblind.

A holder that is down, slow (past `timeout`), refuses, or answers with a proof that does not verify against its
registered share key is skipped for this round and the next holder is asked; fewer than t good answers raise
`KeyshareUnavailable` (nothing was learnt, nothing is stored). A round still short of answers after `hedge_after`
seconds also asks the next holder (a hedged request): one slow holder then costs a report milliseconds, not the
timeout, at the price of an occasional extra evaluation. Hedges are budgeted (`HedgeBudget`: about one round in
ten): when every round is slow because the holders are overloaded, hedging would only add to their load.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import httpx
from eth_account.signers.local import LocalAccount
from pydantic import ValidationError

from creditshare.core.oprf import (
    Blinded,
    Mode,
    OprfError,
    PartialEvaluation,
    Proof,
    VerifiedPartial,
    blind,
    finalize_verified,
    verify_partial,
)
from creditshare.keyshare.batching import QueryBatcher
from creditshare.keyshare.errors import KeyshareUnavailable
from creditshare.keyshare.shares import Holder, ShareSet
from creditshare.keyshare.wire import (
    MAX_BATCH,
    MEMBER_HEADER,
    SIGNATURE_HEADER,
    TIME_HEADER,
    EvaluateResponse,
    sign_request,
)


class HedgeBudget:
    """A token bucket of hedged requests: each round earns `rate` of a hedge, each hedge spends one, and at most
    `burst` are saved up. So hedges stay near `rate` of the rounds however slow the holders get (the "tail at
    scale" rule: hedge the slowest few percent, never everything)."""

    def __init__(self, rate: float = 0.1, burst: float = 10.0) -> None:
        self._rate, self._burst, self._tokens = rate, burst, burst
        self._lock = threading.Lock()

    def earn(self) -> None:
        with self._lock:
            self._tokens = min(self._burst, self._tokens + self._rate)

    def spend(self) -> bool:
        with self._lock:
            if self._tokens < 1 - 1e-9:  # ten earnings of 0.1 add up to 0.999…
                return False
            self._tokens -= 1
            return True


@dataclass(frozen=True)
class _Outcome:
    holder: Holder
    verified: VerifiedPartial | None
    failure: str = ""  # for people: what went wrong
    code: str = "ok"  # for metrics and decisions: ok | unreachable | invalid | the holder's refusal code


class KeyshareClient:
    """Evaluates the OPRF with the holders of one share set, signing every request with this lender's key."""

    def __init__(
        self,
        share_set: ShareSet,
        signer: LocalAccount,
        *,
        timeout: float = 2.0,
        hedge_after: float | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        observe: Callable[[int, str], None] | None = None,
        query_batch: int = MAX_BATCH,
    ) -> None:
        self.share_set = share_set
        self._signer = signer
        self._timeout = timeout
        self._hedge_after = hedge_after
        self._hedges = HedgeBudget()
        self._http = http or httpx.Client(timeout=timeout)
        self._clock = clock
        self._observe = observe  # (holder index, outcome) of every answer, for the gateway's metrics
        # Each request asks up to n holders at once, and a gateway serves many requests at once.
        self._pool = ThreadPoolExecutor(max_workers=8 * len(share_set.holders), thread_name_prefix="keyshare")
        # query_batch 1: every report its own round, as many at once as there are reports
        self._queries = QueryBatcher(self._query_round, max_batch=query_batch) if query_batch > 1 else None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def evaluate(self, inputs: Sequence[bytes], purpose: str, inquiry: bytes | None = None) -> list[bytes]:
        """OPRF_k(input) for every input, in order (one round trip to t holders per `MAX_BATCH` inputs). Look-ups
        for reports (`query`, with their inquiry) share rounds with concurrent reports (`QueryBatcher`)."""
        if purpose == "query" and inquiry is not None and self._queries is not None:
            return self._queries.evaluate(inputs, inquiry)
        why: dict[str, object] = {"purpose": purpose, "inquiry": inquiry.hex() if inquiry is not None else None}
        outputs: list[bytes] = []
        for start in range(0, len(inputs), MAX_BATCH):
            outputs += self._round(inputs[start : start + MAX_BATCH], why)
        return outputs

    def _query_round(self, inputs: Sequence[bytes], inquiries: Sequence[bytes]) -> list[bytes]:
        """One round for the look-ups of one or more reports: a single inquiry is sent as `inquiry`, several as
        `inquiries` (one per element)."""
        if len(set(inquiries)) == 1:
            return self._round(inputs, {"purpose": "query", "inquiry": inquiries[0].hex()})
        return self._round(inputs, {"purpose": "query", "inquiries": [i.hex() for i in inquiries]})

    def _round(self, inputs: Sequence[bytes], why: dict[str, object]) -> list[bytes]:
        blinded = [blind(value, Mode.VOPRF) for value in inputs]
        body = json.dumps(
            {"request_id": os.urandom(32).hex(), **why, "elements": [b.element.hex() for b in blinded]}
        ).encode()
        t = self.share_set.threshold
        waiting = list(self.share_set.holders)
        running: set[Future[_Outcome]] = set()
        verified: list[VerifiedPartial] = []
        failures: list[_Outcome] = []
        hedges = 0  # holders asked beyond the t - verified still needed, because the round was slow
        self._hedges.earn()
        while len(verified) < t:
            while waiting and len(running) < t - len(verified) + hedges:
                running.add(self._pool.submit(self._ask, waiting.pop(0), body, blinded))
            if not running:
                break
            hedge = self._hedge_after if waiting else None
            done, running = wait(running, timeout=hedge, return_when=FIRST_COMPLETED)
            if not done and not self._hedges.spend():
                done, running = wait(running, return_when=FIRST_COMPLETED)  # no hedge left: wait as unhedged
            elif not done:
                hedges += 1
            for future in done:
                outcome = future.result()
                self._note(outcome)
                if outcome.verified is not None:
                    verified.append(outcome.verified)
                else:
                    failures.append(outcome)
        for late in running:  # hedged answers not needed any more still count in the gateway's metrics
            late.add_done_callback(lambda future: self._note(future.result()))
        if len(verified) < t:
            reasons = "; ".join(f"holder {o.holder.index}: {o.failure}" for o in failures)
            raise KeyshareUnavailable(
                f"{len(verified)} of the {t} key-share holders needed answered ({reasons})",
                quota=any(o.code == "quota_exceeded" for o in failures),
                not_member=bool(failures) and all(o.code == "not_active_member" for o in failures),
            )
        return finalize_verified(blinded, verified[:t], t)

    def _note(self, outcome: _Outcome) -> None:
        if self._observe is not None:
            self._observe(outcome.holder.index, outcome.code)

    def _ask(self, holder: Holder, body: bytes, blinded: Sequence[Blinded]) -> _Outcome:
        """One holder's verified answer, or why there is none (never raises)."""
        stamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            MEMBER_HEADER: self._signer.address,
            TIME_HEADER: str(stamp),
            SIGNATURE_HEADER: sign_request(self._signer.key, holder.index, stamp, body),
        }
        try:
            response = self._http.post(f"{holder.url.rstrip('/')}/v1/evaluate", content=body, headers=headers)
        except httpx.HTTPError as exc:
            return _Outcome(holder, None, f"unreachable ({type(exc).__name__})", "unreachable")
        if response.status_code != 200:
            code = _error_code(response)
            return _Outcome(holder, None, f"HTTP {response.status_code} {code}", code)
        try:
            answer = EvaluateResponse.model_validate_json(response.content)
            partial = PartialEvaluation(
                answer.index,
                tuple(bytes.fromhex(e) for e in answer.elements),
                Proof.from_bytes(bytes.fromhex(answer.proof)),
            )
            if partial.index != holder.index:
                return _Outcome(holder, None, f"answered as share {partial.index}", "invalid")
            return _Outcome(holder, verify_partial(partial, holder.public_key, [b.element for b in blinded]))
        except (ValidationError, OprfError, ValueError) as exc:
            failure = f"invalid answer ({type(exc).__name__}: proof or elements do not verify)"
            return _Outcome(holder, None, failure, "invalid")


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "unknown"
