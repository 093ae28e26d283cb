"""Index fixtures: a real SQLite index file per test, followers on the session's Ganache, ground truth from the
chain's own logs, and a small JSON-RPC proxy that refuses wide `eth_getLogs` ranges like Besu does."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from creditshare.chain.artifacts import decode_logs
from creditshare.chain.deploy import Deployment
from creditshare.chain.rpc import make_web3
from creditshare.core.db import Base, make_engine, session_factory
from creditshare.core.db.tables import (
    IndexCorrection,
    IndexDispute,
    IndexEvent,
    IndexInquiry,
    IndexMemberEvent,
    IndexState,
)
from creditshare.devtools.devchain import DevChain
from creditshare.read.follower import Follower

#: The logs the index keeps, by event name, and the table each lands in.
INDEXED_EVENTS: dict[str, type[Base]] = {
    "CreditEventRecorded": IndexEvent,
    "InquiryRecorded": IndexInquiry,
    "CreditEventCorrected": IndexCorrection,
    "DisputeOpened": IndexDispute,
    "DisputeResolved": IndexDispute,
    "MemberAdmitted": IndexMemberEvent,
    "MemberRoleChanged": IndexMemberEvent,
    "MemberStatusChanged": IndexMemberEvent,
}
TABLES: tuple[type[Base], ...] = (IndexEvent, IndexInquiry, IndexCorrection, IndexDispute, IndexMemberEvent)

LogKeys = dict[str, set[tuple[int, int]]]


@dataclass
class IndexDb:
    """One SQLite index file; `open()` gives a fresh engine on it (as a restarted process would have)."""

    path: Path
    engines: list[Engine] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def open(self) -> sessionmaker[Session]:
        engine = make_engine(self.url)
        self.engines.append(engine)
        return session_factory(engine)

    def close(self) -> None:
        for engine in self.engines:
            engine.dispose()


@pytest.fixture
def index_db(tmp_path: Path) -> Iterator[IndexDb]:
    db = IndexDb(tmp_path / "index.db")
    yield db
    db.close()


@pytest.fixture
def factory(index_db: IndexDb) -> sessionmaker[Session]:
    return index_db.open()


def head(w3: Web3) -> int:
    return int(w3.eth.block_number)


def block_hash(w3: Web3, number: int) -> bytes:
    return bytes(w3.eth.get_block(number)["hash"])


def mine(w3: Web3, blocks: int) -> None:
    """Mine empty blocks (Ganache's evm_mine)."""
    for _ in range(blocks):
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def chain_log_keys(w3: Web3, deployment: Deployment, to_block: int | None = None) -> LogKeys:
    """(block, log index) of every indexed kind of log of `deployment` up to `to_block`, by table name — read
    straight from the node, as ground truth for the index."""
    logs = w3.eth.get_logs(
        {
            "address": [Web3.to_checksum_address(deployment.ledger), Web3.to_checksum_address(deployment.registry)],
            "fromBlock": deployment.block,
            "toBlock": head(w3) if to_block is None else to_block,
        }
    )
    keys: LogKeys = {model.__tablename__: set() for model in TABLES}
    for event in decode_logs(list(logs)):
        model = INDEXED_EVENTS.get(event.name)
        if model is not None:
            keys[model.__tablename__].add((event.block_number, event.log_index))
    return keys


def index_log_keys(factory: sessionmaker[Session]) -> LogKeys:
    """(block, log index) of every index row, by table name."""
    with factory() as session:
        return {
            model.__tablename__: {
                (int(b), int(i))
                for b, i in session.execute(select(model.block_number, model.log_index))  # type: ignore[attr-defined]
            }
            for model in TABLES
        }


def row_counts(factory: sessionmaker[Session]) -> dict[str, int]:
    """count(*) of every index table (duplicates would show here even where keys are unique)."""
    with factory() as session:
        return {
            model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0) for model in TABLES
        }


def state_of(factory: sessionmaker[Session]) -> IndexState:
    with factory() as session:
        state = session.get(IndexState, 1)
        assert state is not None
        session.expunge(state)
        return state


def assert_index_matches_chain(w3: Web3, factory: sessionmaker[Session], deployment: Deployment) -> None:
    """Every indexed-kind log up to the index's last block is in the index exactly once, and nothing else is."""
    state = state_of(factory)
    expected = chain_log_keys(w3, deployment, state.last_block)
    assert index_log_keys(factory) == expected
    assert row_counts(factory) == {name: len(keys) for name, keys in expected.items()}


# ---------------------------------------------------------------------------------------------------- proxy


@dataclass
class LogsRequest:
    """One eth_getLogs the proxy saw: its block span and whether it refused it."""

    span: int
    refused: bool


class RangeCappingProxy:
    """A JSON-RPC proxy on 127.0.0.1 that forwards everything to the node, except that it answers a JSON-RPC
    error (as Besu does past its cap) for `eth_getLogs` spanning more than `max_span` blocks."""

    def __init__(self, upstream: str, max_span: int) -> None:
        self.upstream = upstream
        self.max_span = max_span
        self.requests: list[LogsRequest] = []
        #: While set, every call is answered with a JSON-RPC error (a node that is up but failing).
        self.failing = False
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                answer = proxy._handle(body)
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _handle(self, body: bytes) -> bytes:
        request = json.loads(body)
        if self.failing:
            error = {"code": -32000, "message": "node failing (test)"}
            return json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "error": error}).encode()
        if isinstance(request, dict) and request.get("method") == "eth_getLogs":
            flt = request["params"][0]
            span = int(flt["toBlock"], 16) - int(flt["fromBlock"], 16) + 1
            refused = span > self.max_span
            with self._lock:
                self.requests.append(LogsRequest(span, refused))
            if refused:
                error = {"code": -32005, "message": f"Exceeds max range of {self.max_span}"}
                return json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "error": error}).encode()
        forward = urllib.request.Request(self.upstream, data=body, headers={"content-type": "application/json"})
        with urllib.request.urlopen(forward, timeout=10) as response:
            return bytes(response.read())

    def start(self) -> RangeCappingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


ProxyFactory = Callable[[int], RangeCappingProxy]


@pytest.fixture
def capping_proxy(devchain: DevChain) -> Iterator[ProxyFactory]:
    """A factory of started range-capping proxies in front of the session's Ganache (stopped after the test)."""
    proxies: list[RangeCappingProxy] = []

    def start(max_span: int) -> RangeCappingProxy:
        proxy = RangeCappingProxy(devchain.rpc_url, max_span).start()
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.stop()


def follower_via(url: str, factory: sessionmaker[Session], deployment: Deployment, **options: Any) -> Follower:
    """A follower reading the chain through `url` (e.g. a proxy)."""
    return Follower(make_web3(url), factory, deployment, **options)
