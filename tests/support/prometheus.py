"""Reading a Prometheus text exposition (what /metrics answers) in tests."""

from __future__ import annotations

import re


def metric(text: str, name: str, *, required: bool = False, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when there are none; with `required`,
    a sample of `name` must be there)."""
    total, seen = 0.0, False
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", line)
        if match is None:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
            seen = True
    assert seen or not required, f"{name} {labels or ''} missing from /metrics"
    return total
