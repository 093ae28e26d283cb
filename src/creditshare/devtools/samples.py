"""Sample records for tests and benchmarks: valid borrowers' IDs and loan-opened records, reproducible by seed.

The demo's realistic multi-lender history is `devtools.synthetic`; this module is the one factory of plain
valid records (every ID has a correct GB 11643 check character), so no test or benchmark spells the formula
again.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from creditshare.domain.identity import resident_check_char

Record = dict[str, Any]

#: Birth dates of sample borrowers: 1960-01-01 and the following 16,000 days (into 2003).
_BORN_FROM, _BORN_DAYS = dt.date(1960, 1, 1), 16_000


def sample_resident_id(rng: random.Random, *, region: int | None = None) -> str:
    """A valid resident ID: a birth date in 1960-2003, a region code (random unless given), a sequence number.

    Giving distinct `region`s gives distinct IDs (the benchmarks number their subjects this way)."""
    born = _BORN_FROM + dt.timedelta(days=rng.randrange(_BORN_DAYS))
    area = rng.randrange(110000, 659999) if region is None else region
    first17 = f"{area:06d}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + resident_check_char(first17)


def numbered_resident_id(n: int) -> str:
    """The `n`-th (0 ≤ n < 1000) of a fixed series of valid resident IDs: distinct per `n`, same on every run."""
    if not 0 <= n < 1000:
        raise ValueError("n must be 0-999")
    first17 = f"11010519850615{n:03d}"
    return first17 + resident_check_char(first17)


def loan_opened_records(
    count: int,
    *,
    seed: int | str = 7,
    prefix: str = "SAMPLE",
    opened_from: dt.date = dt.date(2025, 1, 1),
    width: int = 6,
) -> list[Record]:
    """`count` valid loan_opened records with distinct record ids (`PREFIX-000001`...), loan numbers and
    borrowers, opened on days within 300 days from `opened_from`."""
    rng = random.Random(seed)
    return [
        {
            "record_id": f"{prefix}-{i:0{width}d}",
            "event_type": "loan_opened",
            "id_type": "resident_id",
            "id_number": sample_resident_id(rng),
            "loan_number": f"{prefix}-L{i:0{width}d}",
            "occurred_on": (opened_from + dt.timedelta(days=rng.randrange(300))).isoformat(),
            "principal_fen": rng.randrange(100_000, 20_000_000),
        }
        for i in range(count)
    ]
