"""CSRF prevention, CORS, security headers and GraphiQL in production."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import httpx
import pytest

from settings import Environment

TYPENAME = {"query": "{ __typename }"}
BASE_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


@pytest.mark.parametrize(
    ("method", "content_type"),
    [("GET", None), ("POST", None), ("POST", "text/plain"), ("POST", "application/x-www-form-urlencoded")],
)
async def test_requests_a_browser_can_forge_need_a_preflight_header(
    http: httpx.AsyncClient, method: str, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    kwargs = {"params": TYPENAME} if method == "GET" else {"content": b'{"query": "{ __typename }"}'}
    refused = await http.request(method, "/graphql", headers=headers, **kwargs)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "CSRF_PREVENTED"
    allowed = await http.request(
        method,
        "/graphql",
        headers={**headers, "x-apollo-operation-name": "T"},
        **kwargs,
    )
    # past CSRF prevention: a GET runs, a simple content type is still not JSON
    assert allowed.status_code == (200 if method == "GET" else 415)


async def test_csrf_prevention_can_be_turned_off(app_with: Any) -> None:
    async with app_with(csrf_prevention=False) as http:
        response = await http.get("/graphql", params=TYPENAME)
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_cors_answers_only_the_configured_origins(app_with: Any, http: httpx.AsyncClient) -> None:
    preflight = {"access-control-request-method": "POST", "access-control-request-headers": "content-type"}
    async with app_with(cors_allowed_origins="https://admin.hospital.example") as configured:
        ok = await configured.options("/graphql", headers={"origin": "https://admin.hospital.example", **preflight})
        other = await configured.options("/graphql", headers={"origin": "https://evil.example", **preflight})
        simple = await configured.post("/graphql", json=TYPENAME, headers={"origin": "https://admin.hospital.example"})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://admin.hospital.example"
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    assert simple.headers["access-control-allow-origin"] == "https://admin.hospital.example"
    # the default: no cross-origin access at all
    default = await http.post("/graphql", json=TYPENAME, headers={"origin": "https://admin.hospital.example"})
    assert "access-control-allow-origin" not in default.headers


@pytest.mark.parametrize("path", ["/graphql", "/healthz", "/no-such-page"])
async def test_every_response_carries_the_security_headers(http: httpx.AsyncClient, path: str) -> None:
    response = await http.post(path, json=TYPENAME) if path == "/graphql" else await http.get(path)
    assert {name: response.headers.get(name) for name in BASE_HEADERS} == BASE_HEADERS
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "strict-transport-security" not in response.headers, "HSTS only in production"


async def test_production_adds_hsts_and_serves_no_graphiql(app_with: Any) -> None:
    async with app_with(env=Environment.PROD) as http:
        page = await http.get("/graphql", headers={"accept": "text/html"})
        api = await http.post("/graphql", json=TYPENAME)
    assert page.headers["content-type"].startswith("application/json")
    assert "<html" not in page.text.lower()
    assert api.headers["strict-transport-security"].startswith("max-age=31536000")


async def test_graphiql_runs_its_own_inline_scripts_only(http: httpx.AsyncClient) -> None:
    page = await http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]+)", csp)
    assert script_src is not None
    inline = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    assert inline, "the page has inline scripts"
    expected = {"'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in inline}
    assert set(script_src.group(1).split()) == {"'self'"} | expected
    assert "'unsafe-inline'" not in script_src.group(1)
    assert "frame-ancestors 'none'" in csp
