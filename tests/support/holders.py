"""Key-share holders for the tests (subject keys v2), served over real HTTP on loopback by uvicorn in threads.

* `TEST_OPRF_KEY` is the key every test share set is dealt from, so tests compute expected v2 keys locally
  (`oprf_outputs`, `subject_key_of`, `keys_for`, `LocalOprfSource`) exactly as they did with the v1 test secret;
  the threshold answer equals the single-key PRF (tests/keyshare and tests/core/test_oprf.py prove it).
* `HolderServer` is one holder with a server of its own (stoppable, slowable): for the holder and failover tests.
* `HolderHub` hosts every share set of a test process on one server; `ensure_keyshares` gives a consortium
  three holders there and publishes them on chain, which `tests.support.gateways.GatewayEnv` does for every
  gateway a test starts.
"""

from __future__ import annotations

import asyncio
import atexit
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from sqlalchemy import Engine

from creditshare.api.holder import create_holder_app
from creditshare.chain.deploy import Deployment
from creditshare.chain.keyshares import publish_share_set
from creditshare.core.db import make_engine, session_factory
from creditshare.core.oprf import Mode, Share, evaluate, group, split
from creditshare.devtools.devchain import free_port
from creditshare.domain.identity import IdPair, IdType, KeyPurpose, OprfKeys, normalise, oprf_input, subject_key_v2
from creditshare.domain.records import CreditEventIn
from creditshare.keyshare.directory import directory, to_chain
from creditshare.keyshare.holder import CachedMembership, Holder, MembershipCheck, Quota, registry_membership
from creditshare.keyshare.shares import Holder as HolderEntry
from creditshare.keyshare.shares import ShareSet

#: The OPRF key of every share set the test suite deals. Real deployments never see k: `keyshare init` drops it.
TEST_OPRF_KEY = bytes.fromhex("0b" * 31 + "01")
#: Anchoring accounts of test holders (the hub does not anchor; the directory needs distinct non-zero accounts).
HOLDER_ACCOUNTS = ["0x" + f"{i:040x}" for i in (0xA1, 0xA2, 0xA3)]
UNLIMITED = Quota(10**9, 10**9)


# --- expected keys, computed locally --------------------------------------------------------------------------


def oprf_outputs(pairs: Collection[IdPair]) -> dict[IdPair, bytes]:
    """OPRF outputs of borrowers under `TEST_OPRF_KEY` (equal to the holders' threshold answer)."""
    return {pair: evaluate(TEST_OPRF_KEY, oprf_input(*pair), Mode.VOPRF) for pair in pairs}


def subject_key_of(id_type: str, id_number: str) -> bytes:
    """The v2 subject key of a borrower under `TEST_OPRF_KEY`."""
    pair = (id_type, normalise(id_type, id_number))
    return subject_key_v2(oprf_outputs([pair])[pair])


def keys_for(*records: CreditEventIn) -> OprfKeys:
    """v2 `RecordKeys` of the borrowers of `records`."""
    return OprfKeys(oprf_outputs([(IdType(r.id_type).value, normalise(r.id_type, r.id_number)) for r in records]))


class LocalOprfSource:
    """`SubjectKeySource` of v2 keys under `TEST_OPRF_KEY`, computed in process: for tests of code that derives
    keys (the outbox, verification) where the network round trip is not what they test."""

    version = 2

    def record_keys(self, ids: Collection[IdPair], purpose: KeyPurpose, inquiry: bytes | None = None) -> OprfKeys:
        return OprfKeys(oprf_outputs(ids))


# --- servers --------------------------------------------------------------------------------------------------


def _serve(app: FastAPI, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    """Run `app` on 127.0.0.1:`port` in a thread; returns once its /healthz answers."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return server, thread
        except httpx.HTTPError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing answers on port {port}")


def _shut(server: uvicorn.Server | None, thread: threading.Thread | None, engines: list[Engine]) -> None:
    if server is not None:
        server.should_exit = True
    if thread is not None:
        thread.join(timeout=10)
    for engine in engines:
        engine.dispose()


@dataclass
class HolderServer:
    """One holder with its own SQLite database and HTTP server; `delay[0]` holds every answer back (a slow
    holder)."""

    holder: Holder
    engine: Engine
    port: int
    delay: list[float] = field(default_factory=lambda: [0.0])
    _running: tuple[uvicorn.Server, threading.Thread] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def create(cls, share: Share, folder: Path, membership: MembershipCheck, quota: Quota) -> HolderServer:
        engine = make_engine(f"sqlite:///{folder / f'holder{share.index}.db'}")
        return cls(Holder(share, session_factory(engine), membership, quota), engine, free_port())

    def start(self) -> HolderServer:
        app = create_holder_app(self.holder)
        delay = self.delay

        @app.middleware("http")
        async def slow(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            await asyncio.sleep(delay[0])
            return await call_next(request)

        self._running = _serve(app, self.port)
        return self

    def stop(self) -> None:
        server, thread = self._running or (None, None)
        _shut(server, thread, [self.engine])


class HolderHub:
    """One server hosting every share set of a test process: set n's holder i answers under /c{n}/h{i}, with its
    own SQLite log and membership read from its consortium's registry."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.app = FastAPI()
        self.port = free_port()
        self._sets = 0
        self._engines: list[Engine] = []
        self._running: tuple[uvicorn.Server, threading.Thread] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HolderHub:
        self.app.get("/healthz")(lambda: {"status": "ok"})
        self._running = _serve(self.app, self.port)
        return self

    def add_set(
        self, membership: MembershipCheck, accounts: list[str], threshold: int = 2, quota: Quota = UNLIMITED
    ) -> ShareSet:
        """Deal `TEST_OPRF_KEY` threshold-of-len(accounts) to new holders served here; returns the public set."""
        self._sets += 1
        cached = CachedMembership(membership, ttl=1.0)
        entries = []
        for share, account in zip(split(TEST_OPRF_KEY, threshold, len(accounts)), accounts, strict=True):
            engine = make_engine(f"sqlite:///{self.folder / f'set{self._sets}-holder{share.index}.db'}")
            self._engines.append(engine)
            prefix = f"/c{self._sets}/h{share.index}"
            self.app.mount(prefix, create_holder_app(Holder(share, session_factory(engine), cached, quota)))
            entries.append(HolderEntry(share.index, share.public_key, self.url + prefix, account))
        return ShareSet(1, threshold, group.base_mul(TEST_OPRF_KEY), tuple(entries))

    def stop(self) -> None:
        server, thread = self._running or (None, None)
        _shut(server, thread, self._engines)


_hub: list[HolderHub] = []  # this test process's hub, started on first use
_published: set[str] = set()
_publishing = threading.Lock()  # tests build gateway envs from several threads at once


def holder_hub() -> HolderHub:
    """The test process's holder hub (one per pytest worker), started on first use, stopped at exit."""
    if not _hub:
        hub = HolderHub(Path(tempfile.mkdtemp(prefix="creditshare-holders-"))).start()
        atexit.register(hub.stop)
        _hub.append(hub)
    return _hub[0]


def ensure_keyshares(deployment: Deployment) -> None:
    """Give the consortium of `deployment` (deployed by this test process) three holders (2-of-3) of
    `TEST_OPRF_KEY` on the hub and publish their set on chain by governance — once per consortium."""
    from tests.support import DEPLOYED

    with _publishing:
        consortium = DEPLOYED.get(deployment.registry.lower())  # the latest consortium deployed at that address
        if consortium is None:
            return
        # Tests with a chain of their own deploy at the same addresses as others: tell them apart by node.
        node = getattr(consortium.w3.provider, "endpoint_uri", "")
        key = f"{node} {deployment.registry.lower()} {deployment.block}"
        if key in _published:
            return
        share_set = holder_hub().add_set(registry_membership(consortium.registry), HOLDER_ACCOUNTS)
        governors = consortium.governor_txs()
        for governor in governors:
            governor.resync_nonce()  # other fixtures of the session may have sent from these accounts
        publish_share_set(directory(consortium.w3, deployment), governors, to_chain(share_set))
        _published.add(key)
