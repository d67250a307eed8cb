"""GraphiQL page and its locally served assets (no browser, no network)."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from graphiql import ASSET_FILES, ASSET_PREFIX, PINNED_PACKAGES, asset_routes, assets_available, graphiql_html

REPO_ROOT = Path(__file__).resolve().parents[2]

# <script src=...> / <link href=...> tags with an SRI hash, in any attribute order.
_TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.DOTALL)
_URL = re.compile(r'\b(?:src|href)="([^"]+)"')
_INTEGRITY = re.compile(r'\bintegrity="([^"]+)"')


@pytest.fixture(scope="module")
def root() -> Path:
    """Repository root with node_modules installed; CI must never skip this."""
    if not assets_available(REPO_ROOT):
        message = "GraphiQL assets missing: run `make assets` (npm ci) first"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return REPO_ROOT


@pytest.fixture(scope="module")
def client(root: Path) -> TestClient:
    return TestClient(Starlette(routes=asset_routes(root)))


def _integrity_by_url(html: str) -> dict[str, str]:
    """Map each asset URL in the page to its integrity attribute."""
    result: dict[str, str] = {}
    for tag in _TAG.findall(html):
        url, integrity = _URL.search(tag), _INTEGRITY.search(tag)
        if url and integrity:
            result[url.group(1)] = integrity.group(1)
    return result


def _sri_sha384(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def test_package_json_pins_exactly_the_served_packages() -> None:
    manifest = json.loads((REPO_ROOT / "package.json").read_text(encoding="utf-8"))
    assert manifest["dependencies"] == dict(PINNED_PACKAGES)


def test_page_references_only_local_assets(root: Path) -> None:
    html = graphiql_html(root)

    assert "unpkg.com" not in html
    assert set(_integrity_by_url(html)) == {f"{ASSET_PREFIX}/{name}" for name in ASSET_FILES}


def test_assets_are_served_and_match_page_integrity(root: Path, client: TestClient) -> None:
    integrity_by_url = _integrity_by_url(graphiql_html(root))
    assert integrity_by_url, "page has no assets with integrity attributes"

    for url, integrity in integrity_by_url.items():
        response = client.get(url)

        assert response.status_code == 200, url
        expected_type = "text/css" if url.endswith(".css") else "text/javascript"
        assert response.headers["content-type"].split(";")[0] == expected_type, url
        assert "immutable" in response.headers["cache-control"], url
        assert _sri_sha384(response.content) == integrity, url


@pytest.mark.parametrize(
    "path",
    [
        "/graphiql-assets/../package.json",
        "/graphiql-assets/..%2Fpackage.json",
        "/graphiql-assets/%2e%2e/package.json",
        "/graphiql-assets/react@18.2.0/../../package.json",
        "/graphiql-assets/react/package.json",
        "/graphiql-assets/react/umd/react.production.min.js",
        "/graphiql-assets/unknown.js",
        "/graphiql-assets/",
    ],
)
def test_only_whitelisted_files_are_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_missing_assets_fall_back_to_cdn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="graphiql"):
        html = graphiql_html(tmp_path)

    assert "https://unpkg.com/graphiql@" in html
    assert ASSET_PREFIX not in html
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "make assets" in warnings[0].getMessage()


def test_missing_assets_are_404_not_500(tmp_path: Path) -> None:
    client = TestClient(Starlette(routes=asset_routes(tmp_path)))
    assert client.get(f"{ASSET_PREFIX}/{next(iter(ASSET_FILES))}").status_code == 404
