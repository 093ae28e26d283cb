"""Sharing one lender's outbox among its lanes (its own key and its delegate signers).

Each lane's submitter takes the pending items whose id falls to it (`id % lanes == position`), so lanes never
compete for the same rows; the claim in `BatchStore.store_signed` still refuses rows another lane took (a
gateway restarted with a different set of keys may briefly disagree). A lane whose signer was removed for good
retires, and the others share its part from then on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


def lease_name(lender: str, lane: int) -> str:
    """The submitter lease of one lender's lane (lane 0 keeps the name it had before lanes existed)."""
    return f"submitter:{lender.lower()}" + (f":lane{lane}" if lane else "")


@dataclass(frozen=True)
class Share:
    """Which pending items one lane takes: those with `id % count == position`."""

    position: int
    count: int


class LanePlan:
    """The lanes of one gateway that still take new items (thread-safe; shared by its submitters)."""

    def __init__(self, lanes: list[int]) -> None:
        self._lock = threading.Lock()
        self._live = sorted(set(lanes))

    @property
    def live(self) -> list[int]:
        with self._lock:
            return list(self._live)

    def share(self, lane: int) -> Share | None:
        """The part of the outbox `lane` takes now (None: it is retired)."""
        with self._lock:
            if lane not in self._live:
                return None
            return Share(self._live.index(lane), len(self._live))

    def retire(self, lane: int) -> None:
        """`lane` takes no new items any more (its signer was removed); lane 0, the lender's own key, never retires."""
        with self._lock:
            if lane != 0 and lane in self._live:
                self._live.remove(lane)
