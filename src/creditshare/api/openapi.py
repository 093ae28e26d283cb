"""Export the gateway's OpenAPI document without a chain, keys or database.

`create_app` wires the routes around a `Gateway`, which needs a keystore, secrets, a database and a chain node.
Building the schema touches none of that: only the request handlers, the request-counting middleware and the
lifespan use the gateway, and none of them runs here. So the app is built around a placeholder that fails
loudly if anything does use it, with lifecycle management off. The document is exactly what a running
gateway serves at /openapi.json (and renders at /docs).

    python -m creditshare.api.openapi docs/openapi.json   # write the file (no argument or "-": stdout)

`tests/test_docs.py` fails when docs/openapi.json differs from a fresh export.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, cast

from creditshare.api.app import create_app
from creditshare.gateway import Gateway


class _SchemaOnlyGateway:
    """Stands in for the gateway while the schema is built; any attribute access is a bug."""

    def __getattr__(self, name: str) -> NoReturn:
        raise RuntimeError(f"OpenAPI export must not use the gateway (touched gateway.{name})")


def openapi_schema() -> dict[str, Any]:
    """The OpenAPI document of the gateway's API, built from the real app."""
    app = create_app(cast(Gateway, _SchemaOnlyGateway()), manage_lifecycle=False)
    return app.openapi()


def render(schema: dict[str, Any]) -> str:
    """The document as committed: sorted keys, two-space indent, UTF-8 text, trailing newline."""
    return json.dumps(schema, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write the document to the path given (stdout without one, or for "-")."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1 or (args and args[0] in ("-h", "--help")):
        print("usage: python -m creditshare.api.openapi [OUT]   (default: stdout)", file=sys.stderr)
        return 0 if args and args[0] in ("-h", "--help") else 2
    text = render(openapi_schema())
    if not args or args[0] == "-":
        sys.stdout.write(text)
    else:
        Path(args[0]).write_text(text, encoding="utf-8")
        print(f"wrote {args[0]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
