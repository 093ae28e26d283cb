"""The documentation stays true to the code: the exported OpenAPI document is current, every relative link in
README.md and docs/*.md resolves (file and heading), and the reference pages name every endpoint, error code and
setting the code has.

No chain, database or network is needed: the OpenAPI document is built from the real app around a placeholder
gateway (`creditshare.api.openapi`), everything else is read from the sources.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from creditshare.api.openapi import openapi_schema, render
from creditshare.core.config import ENV_PREFIX, Settings
from creditshare.domain.identity import InvalidIdentity
from creditshare.write.outcomes import PYDANTIC_CODES
from creditshare.write.reverts import FATAL_ERRORS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SRC = ROOT / "src" / "creditshare"
REGENERATE = ".venv/bin/python -m creditshare.api.openapi docs/openapi.json"

MARKDOWN = sorted([ROOT / "README.md", *DOCS.glob("*.md")])
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")


def _prose_lines(path: Path, *, blank_code_spans: bool = True) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, with inline code spans blanked out unless told not to."""
    lines: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        opened = FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        lines.append((number, CODE_SPAN.sub("", line) if blank_code_spans else line))
    return lines


def _links(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for number, line in _prose_lines(path):
        found += [(number, m.group(1)) for m in INLINE_LINK.finditer(line)]
        definition = REFERENCE_DEF.match(line)
        if definition:
            found.append((number, definition.group(1)))
    return found


def _is_external(target: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)) or target.startswith("//")


def _slug(heading: str) -> str:
    """GitHub's heading anchor: rendered text, lowercased, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in _prose_lines(path, blank_code_spans=False):
        heading = HEADING.match(line)
        if heading:
            slug = _slug(heading.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


# ---------------------------------------------------------------------------------------------------- OpenAPI


def test_openapi_json_matches_a_fresh_export() -> None:
    committed = (DOCS / "openapi.json").read_text(encoding="utf-8")
    assert committed == render(openapi_schema()), f"docs/openapi.json is stale; regenerate it with `{REGENERATE}`"


def test_openapi_export_never_touches_the_gateway() -> None:
    schema = openapi_schema()  # the placeholder gateway raises on any use
    assert schema["info"]["title"] == "creditshare gateway"
    assert {"/v1/events", "/v1/events/{event_id}", "/v1/reports", "/v1/verify"} <= set(schema["paths"])


def test_api_doc_names_every_endpoint_and_the_regeneration_command() -> None:
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    for path, operations in openapi_schema()["paths"].items():
        for method in operations:
            assert f"{method.upper()} {path}" in text, f"docs/api.md does not document {method.upper()} {path}"
    assert "GET /docs" in text
    assert REGENERATE.removeprefix(".venv/bin/") in text


# ---------------------------------------------------------------------------------------------------- links


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_existing_files(path: Path) -> None:
    broken = []
    for number, target in _links(path):
        if _is_external(target) or target.startswith("#"):
            continue
        file_part = target.split("#", 1)[0].split("?", 1)[0]
        if not (path.parent / file_part).exists():
            broken.append(f"{path.relative_to(ROOT)}:{number}: {target}")
    assert not broken, "links to missing files:\n" + "\n".join(broken)


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_existing_headings(path: Path) -> None:
    broken = []
    for number, target in _links(path):
        if _is_external(target) or "#" not in target:
            continue
        file_part, anchor = target.split("#", 1)
        destination = (path.parent / file_part) if file_part else path
        if destination.suffix != ".md" or not destination.exists():
            continue  # a missing file is the other test's finding
        if anchor not in _anchors(destination):
            broken.append(f"{path.relative_to(ROOT)}:{number}: {target}")
    assert not broken, "links to missing headings:\n" + "\n".join(broken)


def test_link_scanner_skips_code_and_keeps_prose(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# A `code` heading\n[ok](other.md#a-code-heading) `[no](inline.md)`\n```\n[no](fenced.md)\n```\n"
        "[ref]: ref.md\n",
        encoding="utf-8",
    )
    assert [t for _, t in _links(page)] == ["other.md#a-code-heading", "ref.md"]
    assert _anchors(page) == {"a-code-heading"}


# ---------------------------------------------------------------------------------------------------- codes


def _calls(path: Path) -> list[ast.Call]:
    return [node for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.Call)]


def _name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _is_name(func: ast.expr, owner: str) -> bool:
    """Whether `func` is a method looked up on the variable `owner` (`owner.method`)."""
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == owner


def _constant(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def api_error_codes() -> set[str]:
    """Every error code the API layer writes itself: ApiError(status, "code"…), error_body("code"…) and the
    status→code table of the HTTP-exception handler."""
    codes: set[str] = set()
    for path in (SRC / "api").rglob("*.py"):
        for call in _calls(path):
            owner = call.func.value if isinstance(call.func, ast.Attribute) else None
            if _name(call) == "ApiError" and len(call.args) >= 2:
                codes.add(_constant(call.args[1]) or "")
            elif _name(call) == "error_body" and call.args:
                codes.add(_constant(call.args[0]) or "")
            elif _name(call) == "get" and isinstance(owner, ast.Dict):  # {404: "not_found", …}.get(status, "…")
                codes |= {c for c in map(_constant, owner.values) if c}
                codes.add((_constant(call.args[1]) if len(call.args) > 1 else None) or "")
    return codes - {""}


def record_codes() -> set[str]:
    """Every per-record rejection or failure code: validation (records, identity, outbox) and the submitter."""
    codes = set(PYDANTIC_CODES.values()) | set(FATAL_ERRORS.values())
    for module in ("domain/records", "domain/identity", "write/outbox", "write/submitter", "write/batches"):
        for call in _calls(SRC / f"{module}.py"):
            name = _name(call)
            if name == "InvalidRecord" and call.args:
                codes.add(_constant(call.args[0]) or "")
            elif name in ("_fail", "fail_items") and len(call.args) >= 3:
                codes.add(_constant(call.args[1 if name == "fail_items" else 2]) or "")
            elif name == "get" and len(call.args) > 1 and _is_name(call.func, "FATAL_ERRORS"):
                codes.add(_constant(call.args[1]) or "")  # the fallback code of a reverted batch
            codes |= {
                _constant(k.value) or ""
                for k in call.keywords
                if k.arg == "code" and name not in ("_fail", "fail_items")
            }
    codes.add(InvalidIdentity("default code").code)
    return codes - {""}


def test_api_doc_lists_every_error_code_of_the_api_layer() -> None:
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    codes = api_error_codes()
    assert {"unauthorized", "forbidden", "rate_limited", "body_too_large", "index_not_ready"} <= codes
    missing = sorted(code for code in codes if f"`{code}`" not in text)
    assert not missing, f"docs/api.md does not list these error codes: {missing}"


def test_every_record_code_is_documented() -> None:
    text = (DOCS / "api.md").read_text(encoding="utf-8") + (DOCS / "data-dictionary.md").read_text(encoding="utf-8")
    codes = record_codes()
    assert {"invalid_id", "invalid_id_type", "unknown_original", "original_failed"} <= codes
    missing = sorted(code for code in codes if f"`{code}`" not in text)
    assert not missing, f"neither docs/api.md nor docs/data-dictionary.md lists these codes: {missing}"


# ---------------------------------------------------------------------------------------------------- settings


def test_operations_doc_names_every_setting() -> None:
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    missing = [ENV_PREFIX + name.upper() for name in Settings.model_fields if ENV_PREFIX + name.upper() not in text]
    assert not missing, f"docs/operations.md does not mention {missing}"
