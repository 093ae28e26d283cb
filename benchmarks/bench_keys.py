"""What the benchmarks share about subject keys v2: a known OPRF key (so generated indexes can be keyed without
asking holders, exactly as the holders' threshold answer would key them) and holder quotas that do not throttle
a load test."""

from __future__ import annotations

import atexit
import contextlib
import os
from functools import cache
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.chain.deploy import Deployment
from creditshare.chain.transactor import Transactor
from creditshare.core.oprf import Mode, evaluate
from creditshare.devtools.devchain import free_port
from creditshare.devtools.localnet import HolderProcess, local_holders
from creditshare.domain.identity import normalise, oprf_input, subject_key_v2

#: The benchmarks' OPRF key, dealt to their holders with `local_holders(..., key=BENCH_OPRF_KEY)`.
BENCH_OPRF_KEY = bytes.fromhex("3c" * 31 + "02")

#: Holder settings of a load test: quotas far above what it sends.
UNLIMITED_QUOTA = {
    "CREDITSHARE_KEYSHARE_QUOTA_PER_MINUTE": str(10**9),
    "CREDITSHARE_KEYSHARE_QUOTA_PER_DAY": str(10**9),
}


@cache
def subject_key_of(resident_id: str) -> bytes:
    """The v2 subject key of a resident id under `BENCH_OPRF_KEY`."""
    normal = normalise("resident_id", resident_id)
    return subject_key_v2(evaluate(BENCH_OPRF_KEY, oprf_input("resident_id", normal), Mode.VOPRF))


def lower_priority(pid: int, nice: int) -> None:
    """Run another process at niceness `nice` (and its autogroup, which is what the Linux scheduler weighs for a
    process in a session of its own): a co-hosted stand-in for a service that has its own machine in production."""
    os.setpriority(os.PRIO_PROCESS, pid, nice)
    with contextlib.suppress(OSError):  # no autogroup scheduling here
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))


def start_holders(
    folder: Path,
    w3: Web3,
    rpc_url: str,
    deployment: Deployment,
    governor: Transactor,
    accounts: list[LocalAccount],
    nice: int = 0,
) -> list[HolderProcess]:
    """Three `creditshare keyshare serve` processes (2-of-3) of `BENCH_OPRF_KEY`, published on chain by
    `governor` (a threshold-1 consortium), anchoring with `accounts`, stopped at exit."""
    envs, _ = local_holders(
        [folder / f"holder-{i}" for i in (1, 2, 3)],
        accounts,
        w3,
        rpc_url,
        deployment,
        [governor],
        2,
        free_port(),
        extra=UNLIMITED_QUOTA,
        key=BENCH_OPRF_KEY,
    )
    holders = [HolderProcess(env).start() for env in envs]
    for holder in holders:
        atexit.register(holder.stop)
        if nice and holder.pid is not None:
            lower_priority(holder.pid, nice)
    return holders
