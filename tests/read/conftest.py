"""Index fixtures: a real SQLite index file per test, followers on the session's Ganache, ground truth from the
chain's own logs, and a small JSON-RPC proxy that refuses wide `eth_getLogs` ranges like Besu does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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
from creditshare.devtools.rpc_proxy import RpcProxy
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


ProxyFactory = Callable[[int], RpcProxy]


@pytest.fixture
def capping_proxy(devchain: DevChain) -> Iterator[ProxyFactory]:
    """A factory of started range-capping proxies in front of the session's Ganache (stopped after the test)."""
    proxies: list[RpcProxy] = []

    def start(max_span: int) -> RpcProxy:
        proxy = RpcProxy(devchain.rpc_url, max_logs_span=max_span).start()
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.stop()


def follower_via(url: str, factory: sessionmaker[Session], deployment: Deployment, **options: Any) -> Follower:
    """A follower reading the chain through `url` (e.g. a proxy)."""
    return Follower(make_web3(url), factory, deployment, **options)
