"""The browser pages' files: GraphiQL's tabs are the README's operations and valid against
the schema; every file a page loads is served from this server and present; each vendored
package carries its license; `serve` prints a signed-in link only for a key it made."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

from app import cli
from app.web import pages

ROOT = Path(__file__).resolve().parents[2]
TABS = pages.STATIC / "graphiql" / "tabs.json"


def _normalised(text: str) -> str:
    return " ".join(text.split())


def _tab_queries() -> list[str]:
    tabs = json.loads(TABS.read_text())
    # The tab's first line is a comment saying what it is for; the rest is the README's.
    return [tab["query"].split("\n", 1)[1] for tab in tabs]


@pytest.mark.parametrize("query", _tab_queries())
def test_each_graphiql_tab_is_a_readme_operation_valid_against_the_schema(query: str) -> None:
    assert _normalised(query) in _normalised((ROOT / "README.md").read_text())
    schema = build_schema((ROOT / "schema.graphql").read_text())
    assert validate(schema, parse(query)) == []


def _page_references() -> list[tuple[Path, str]]:
    found = []
    for page in sorted(pages.STATIC.rglob("*.html")) + sorted(pages.STATIC.rglob("*.js")):
        if "vendor" in page.parts:
            continue
        text = page.read_text()
        for reference in re.findall(r'(?:src|href)="([^"#]+)"|from "([^"]+)"', text):
            found.extend((page, r) for r in reference if r)
    return found


def test_every_file_a_page_loads_is_local_and_present() -> None:
    references = _page_references()
    assert len(references) > 10, "the scan found nothing: it is broken"
    for page, reference in references:
        assert not re.match(r"^(https?:)?//", reference), f"{page.name} loads {reference}"
        if reference.startswith("/static/"):
            assert (pages.STATIC / reference.removeprefix("/static/")).is_file(), reference


def test_each_vendored_package_has_its_license() -> None:
    packages = sorted((pages.STATIC / "vendor").iterdir())
    assert sorted(p.name.split("@")[0] for p in packages) == [
        "graphiql",
        "graphql-ws",
        "react",
        "react-dom",
    ]
    for package in packages:
        assert any(f.name.startswith("LICENSE") for f in package.iterdir()), package.name


def test_the_signed_in_link_is_printed_only_for_a_key_serve_made(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli._print_addresses("http://127.0.0.1:8000", "vrk_a/b+c")
    assert capsys.readouterr().out.splitlines() == [
        "GraphiQL: http://127.0.0.1:8000/graphql",
        "API key: vrk_a/b+c",
        "Runs console: http://127.0.0.1:8000/",
        "GraphiQL, signed in: http://127.0.0.1:8000/graphql#key=vrk_a%2Fb%2Bc",
    ]
    cli._print_addresses("http://127.0.0.1:8000", None)
    assert "signed in" not in capsys.readouterr().out
