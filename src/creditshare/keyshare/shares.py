"""Share files and the share set: what the key ceremony writes and what holders and gateways read.

- A *share file* (one per holder, mode 0600) holds that holder's share k_i and the public description of the set.
- The *share set* (public) says which holders exist: threshold t, and per holder its index, share public key
  pk_i = k_i·G and URL. Governance puts it on chain (`KeyShareDirectory`); gateways trust nothing else.

`init` is the trusted-dealer ceremony used by the demo and the tests: the key is drawn, split and dropped in one
call. Production uses a distributed key generation so that no machine ever holds k (docs/identity.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from creditshare.core.exceptions import ConfigError
from creditshare.core.oprf import Share, combine_elements, deal, group, lagrange_coefficients, split
from creditshare.core.oprf.errors import OprfError

SUITE = "ristretto255-SHA512"


@dataclass(frozen=True)
class Holder:
    """One key-share holder as gateways know it."""

    index: int
    public_key: bytes
    url: str
    account: str  # the address it anchors its evaluation log from


@dataclass(frozen=True)
class ShareSet:
    """The public description of a t-of-n sharing: enough for a gateway to call and verify the holders."""

    version: int
    threshold: int
    group_public_key: bytes
    holders: tuple[Holder, ...]

    def __post_init__(self) -> None:
        if not 1 <= self.threshold <= len(self.holders):
            raise ConfigError(f"share set: threshold {self.threshold} needs 1..{len(self.holders)} holders")
        if len({h.index for h in self.holders}) != len(self.holders):
            raise ConfigError("share set: holder indexes must be distinct")
        # Any t share public keys interpolate to the group key: a set whose keys do not is not one sharing.
        first = {h.index: h.public_key for h in self.holders[: self.threshold]}
        last = {h.index: h.public_key for h in self.holders[-self.threshold :]}
        try:
            consistent = combine_elements(first) == self.group_public_key == combine_elements(last)
        except OprfError:
            consistent = False
        if not consistent:
            raise ConfigError("share set: the share public keys are not shares of the group public key")

    @property
    def public_keys(self) -> dict[int, bytes]:
        return {h.index: h.public_key for h in self.holders}

    def to_json(self) -> dict[str, Any]:
        return {
            "suite": SUITE,
            "version": self.version,
            "threshold": self.threshold,
            "group_public_key": self.group_public_key.hex(),
            "holders": [
                {"index": h.index, "public_key": h.public_key.hex(), "url": h.url, "account": h.account}
                for h in self.holders
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ShareSet:
        try:
            if data.get("suite") != SUITE:
                raise ConfigError(f"share set: suite must be {SUITE}")
            holders = tuple(
                Holder(int(h["index"]), bytes.fromhex(str(h["public_key"])), str(h["url"]), str(h["account"]))
                for h in data["holders"]
            )
            return cls(
                int(data["version"]),
                int(data["threshold"]),
                bytes.fromhex(str(data["group_public_key"])),
                holders,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"share set: malformed ({exc})") from None

    @classmethod
    def read(cls, path: Path) -> ShareSet:
        return cls.from_json(_read_json(path))


@dataclass(frozen=True)
class ShareFile:
    """A holder's share and the set it belongs to."""

    share: Share
    share_set: ShareSet

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"share_set": self.share_set.to_json(), "index": self.share.index, "secret": self.share.secret.hex()}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(body, out, indent=2)
        return path

    @classmethod
    def read(cls, path: Path) -> ShareFile:
        data = _read_json(path)
        share_set = ShareSet.from_json(data.get("share_set", {}))
        try:
            index = int(data["index"])
            share = Share(index, bytes.fromhex(str(data["secret"])), share_set.public_keys[index])
        except (KeyError, ValueError, OprfError) as exc:
            raise ConfigError(f"share file {path}: malformed share ({exc})") from None
        if group.base_mul(share.secret) != share.public_key:
            raise ConfigError(f"share file {path}: the share does not match its public key in the set")
        return cls(share, share_set)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return data


def init(
    threshold: int, holders: Sequence[tuple[str, str]], *, version: int = 1, key: bytes | None = None
) -> list[ShareFile]:
    """The dealer ceremony: a fresh key, shared `threshold`-of-len(holders), one share file per holder (index i+1
    for holders[i] = (url, anchoring account)). The key is gone when this returns. `key` shares a given key
    instead — only for benchmarks and tests that must know the outputs in advance."""
    if key is None:
        group_public_key, shares = deal(threshold, len(holders))
    else:
        group_public_key, shares = group.base_mul(key), split(key, threshold, len(holders))
    share_set = ShareSet(
        version,
        threshold,
        group_public_key,
        tuple(Holder(s.index, s.public_key, url, acct) for s, (url, acct) in zip(shares, holders, strict=True)),
    )
    return [ShareFile(share, share_set) for share in shares]


def reshare(
    old: Sequence[ShareFile], threshold: int, holders: Sequence[tuple[str, str]], *, version: int
) -> list[ShareFile]:
    """Re-share the same key to a new holder set (rotation): each of t old holders i splits its share k_i
    threshold-of-len(holders) (sub-shares s_ij), and new holder j's share is Σ λ_i·s_ij, with λ_i the Lagrange
    coefficients of the old indexes at 0. Subject keys do not change; the old shares must then be destroyed.

    Run here in one process (demo and tests: whoever runs it briefly holds t old shares, i.e. could rebuild k);
    in production each old holder computes and sends its sub-shares from its own machine and each new holder sums
    what it receives — the same arithmetic, split by owner (docs/identity.md)."""
    if not old:
        raise ConfigError("reshare: give the share files of at least t current holders")
    current = old[0].share_set
    if any(f.share_set != current for f in old) or len({f.share.index for f in old}) != len(old):
        raise ConfigError("reshare: the share files must be distinct holders of one share set")
    if len(old) < current.threshold:
        raise ConfigError(f"reshare: {len(old)} share files given, the set needs {current.threshold}")
    chosen = sorted(old, key=lambda f: f.share.index)[: current.threshold]
    lam = lagrange_coefficients([f.share.index for f in chosen])
    sub = [split(f.share.secret, threshold, len(holders)) for f in chosen]  # sub[i][j]: old i's piece for new j
    shares = []
    for j in range(len(holders)):
        secret = group.scalar_mul(lam[chosen[0].share.index], sub[0][j].secret)
        for i in range(1, len(chosen)):
            secret = group.scalar_add(secret, group.scalar_mul(lam[chosen[i].share.index], sub[i][j].secret))
        shares.append(Share(j + 1, secret, group.base_mul(secret)))
    share_set = ShareSet(
        version,
        threshold,
        current.group_public_key,  # the same k: ShareSet checks the new share keys interpolate to it
        tuple(Holder(s.index, s.public_key, url, acct) for s, (url, acct) in zip(shares, holders, strict=True)),
    )
    return [ShareFile(share, share_set) for share in shares]
