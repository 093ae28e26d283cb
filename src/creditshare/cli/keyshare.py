"""`creditshare keyshare ...`: the threshold OPRF's key ceremony, governance of the share set, and the holder."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from creditshare.chain import keyshares
from creditshare.chain.transactor import Transactor
from creditshare.cli._shared import DevAccountOpt, address_column, console, open_registry, pick_signer
from creditshare.core.config import Settings
from creditshare.core.exceptions import ConfigError
from creditshare.keyshare import evaluation_log
from creditshare.keyshare.directory import directory, published_share_set, to_chain
from creditshare.keyshare.shares import ShareFile, ShareSet, init, reshare

keyshare_app = typer.Typer(help="Key-share holders of subject keys v2 (threshold OPRF).", no_args_is_help=True)


HoldersOpt = Annotated[list[str], typer.Option("--holder", help="URL,ACCOUNT of a holder (repeat; index = order)")]
OutOpt = Annotated[Path, typer.Option(help="Folder for share-<i>.json (secret) and share-set.json (public)")]
ThresholdOpt = Annotated[int, typer.Option(help="Holders needed per evaluation (t of n)")]


def _holders(entries: list[str]) -> list[tuple[str, str]]:
    parsed = []
    for entry in entries:
        url, _, account = entry.partition(",")
        if not url.startswith(("http://", "https://")) or not account.startswith("0x") or len(account) != 42:
            raise ConfigError(f"--holder {entry!r}: give URL,ACCOUNT (e.g. http://10.0.0.5:8100,0xAbC…)")
        parsed.append((url, account))
    return parsed


def _write(files: list[ShareFile], out: Path) -> None:
    for f in files:
        f.write(out / f"share-{f.share.index}.json")
    share_set = files[0].share_set
    (out / "share-set.json").write_text(json.dumps(share_set.to_json(), indent=2) + "\n")
    console.print(
        f"wrote {len(files)} shares ({share_set.threshold}-of-{len(files)}, set v{share_set.version}) "
        f"and share-set.json to {out}"
    )
    console.print("hand each share file to its holder only; publish share-set.json with `keyshare publish`")


@keyshare_app.command("init")
def init_cmd(
    holders: HoldersOpt,
    out: OutOpt,
    threshold: ThresholdOpt = 2,
    version: Annotated[int, typer.Option(help="Version of the set (the directory's current version + 1)")] = 1,
) -> None:
    """Trusted-dealer ceremony (demo and tests): draw a key, split it t-of-n, write one share file per holder and
    forget the key. Production uses a distributed key generation (docs/identity.md)."""
    _write(init(threshold, _holders(holders), version=version), out)


@keyshare_app.command("reshare")
def reshare_cmd(
    shares: Annotated[list[Path], typer.Option("--share", help="A current holder's share file (t of them)")],
    holders: HoldersOpt,
    out: OutOpt,
    threshold: ThresholdOpt = 2,
) -> None:
    """Rotation: re-share the same key to a new holder set (same subject keys), as the next version of the set.
    Publish the new share-set.json, then destroy the old shares (docs/operations.md)."""
    old = [ShareFile.read(path) for path in shares]
    _write(reshare(old, threshold, _holders(holders), version=old[0].share_set.version + 1), out)


@keyshare_app.command()
def publish(
    share_set: Annotated[Path, typer.Argument(help="share-set.json from `keyshare init`")],
    dev_account: DevAccountOpt = None,
) -> None:
    """Approve a share set as one governor; it becomes the set gateways trust at the threshold's approval."""
    settings = Settings.from_env()
    w3, _, deployment = open_registry(settings)
    contract = directory(w3, deployment)
    governor = Transactor(w3, pick_signer(settings, dev_account))
    receipt = keyshares.approve_share_set(contract, governor, to_chain(ShareSet.read(share_set)))
    activated = keyshares.share_set_activated(receipt)
    console.print("share set is now current" if activated else "approved; more governors must approve it")


@keyshare_app.command()
def show() -> None:
    """The share set gateways trust now, and each holder's last anchored log head."""
    settings = Settings.from_env()
    w3, _, deployment = open_registry(settings)
    current = published_share_set(w3, deployment)
    contract = directory(w3, deployment)
    table = Table("index", "url", address_column("account"), "share public key", "anchored seq", title="")
    for h in current.holders:
        anchor = keyshares.last_anchor(contract, h.index)
        table.add_row(str(h.index), h.url, h.account, h.public_key.hex(), str(anchor.seq) if anchor else "-")
    table.title = f"share set v{current.version}: {current.threshold}-of-{len(current.holders)}"
    console.print(table)


@keyshare_app.command()
def serve() -> None:
    """Run this key-share holder on CREDITSHARE_LISTEN_HOST:CREDITSHARE_LISTEN_PORT."""
    import uvicorn

    from creditshare.api.holder import create_holder_app
    from creditshare.keyshare.node import HolderNode

    settings = Settings.from_env()
    node = HolderNode(settings)
    console.print(f"key-share holder {node.holder.index} on http://{settings.listen_host}:{settings.listen_port}")
    node.start()
    gc.collect()
    gc.freeze()
    try:
        uvicorn.run(
            create_holder_app(node.holder), host=settings.listen_host, port=settings.listen_port, log_level="warning"
        )
    finally:
        node.stop()


@keyshare_app.command("verify-log")
def verify_log() -> None:
    """Re-hash this holder's evaluation log and check its last anchor against the chain."""
    from creditshare.core.db import make_engine, session_factory

    settings = Settings.from_env()
    if settings.keyshare_share_file is None:
        raise ConfigError("set CREDITSHARE_KEYSHARE_SHARE_FILE to this holder's share file")
    index = ShareFile.read(settings.keyshare_share_file).share.index
    engine = make_engine(settings.database)
    try:
        with session_factory(engine)() as session:
            checked = evaluation_log.verify(session)
            if not checked.ok:
                raise ConfigError(f"evaluation log broken at entry {checked.broken_at}: it was changed")
            w3, _, deployment = open_registry(settings)
            anchor = keyshares.last_anchor(directory(w3, deployment), index)
            if anchor is not None and evaluation_log.entry_hash(session, anchor.seq) != anchor.head:
                raise ConfigError(f"entry {anchor.seq} differs from the head anchored on chain: the log was rewritten")
    finally:
        engine.dispose()
    anchored = f"; anchored on chain up to entry {anchor.seq}" if anchor else "; nothing anchored yet"
    console.print(f"evaluation log ok: {checked.entries} entries{anchored}")
