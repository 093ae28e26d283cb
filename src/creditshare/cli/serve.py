"""`creditshare serve` (the gateway) and `creditshare sync` (the index in the foreground)."""

from __future__ import annotations

import contextlib
import gc
import signal
import threading
from typing import Annotated

import typer

from creditshare.chain.deploy import Deployment
from creditshare.cli._shared import (
    console,
)
from creditshare.core.config import Settings
from creditshare.core.db import checkpoint_loop, make_engine, session_factory
from creditshare.core.db.lease import Lease
from creditshare.core.exceptions import ConfigError
from creditshare.read.follower import SyncProgress


def serve() -> None:
    """Run the gateway (API + batch submitter) on CREDITSHARE_LISTEN_HOST:CREDITSHARE_LISTEN_PORT."""
    import uvicorn

    from creditshare.api import create_app
    from creditshare.gateway import Gateway

    settings = Settings.from_env()
    gateway = Gateway(settings)
    console.print(f"gateway for lender {gateway.lender} on http://{settings.listen_host}:{settings.listen_port}")
    app_ = create_app(gateway)
    # Everything built so far (web3, SQLAlchemy, FastAPI, contract ABIs) lives as long as the process: move it
    # out of the cyclic GC's reach, or every full collection rescans it (~60 ms pauses, straight into p99).
    gc.collect()
    gc.freeze()
    uvicorn.run(app_, host=settings.listen_host, port=settings.listen_port, log_level="warning")


def sync(
    follow: Annotated[bool, typer.Option(help="Keep following the chain after catching up (Ctrl-C stops).")] = False,
) -> None:
    """Index the chain's registry and ledger logs into the gateway's database, with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from creditshare.chain.rpc import make_web3
    from creditshare.read.follower import Follower

    settings = Settings.from_env()
    deployment = Deployment.load(settings.deployment_path)
    engine = make_engine(settings.database)
    sessions = session_factory(engine)
    follower = Follower(
        make_web3(settings.rpc_url, poa=settings.node_profile.poa_headers),
        sessions,
        deployment,
        confirmations=settings.confirmations,
        max_range=settings.node_profile.max_logs_range,
        max_results=settings.node_profile.max_logs_results,
        lease=Lease(sessions, f"follower:{deployment.ledger.lower()}"),
    )
    start = follower.state().last_block
    rows = 0
    with Progress(
        TextColumn("indexing blocks"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rows]} rows"),
        console=console,
    ) as bar:
        task = bar.add_task("sync", total=None, rows=0)

        def show(step: SyncProgress) -> None:
            nonlocal rows
            rows += step.rows
            bar.update(task, completed=step.indexed - start, total=max(1, step.target - start), rows=rows)

        result = follower.try_sync(show)
    if result is None:
        raise ConfigError(
            "another process (a running `creditshare serve`?) follows the chain into this database; it keeps the "
            "index up to date (two followers would race on it)"
        )
    console.print(f"indexed to block {result.indexed} ({rows} rows)")
    if follow:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        # The index's writes go to SQLite's WAL, and auto-checkpoints are off: checkpoint beside them.
        checkpoints = threading.Thread(target=checkpoint_loop, args=(engine, stop), name="checkpoint", daemon=True)
        checkpoints.start()
        with contextlib.suppress(KeyboardInterrupt):
            follower.run(stop, settings.poll_interval)
        stop.set()
        checkpoints.join(timeout=5)
    engine.dispose()
