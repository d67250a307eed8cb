"""The GraphQL-over-HTTP audit of the npm package graphql-http (`auditServer`) against the live server.

CSRF prevention stays on, as in production. Every MUST audit is a POST with
`Content-Type: application/json`, which CSRF prevention never blocks (such a request cannot be sent
cross-site without a CORS preflight), so the plain run must have no MUST failure. Only the GET audits
are refused with 400 CSRF_PREVENTED: they are MAY items ("MAY accept ... GET requests", "MAY allow
URL-encoded JSON string {variables} in GETs"), and the spec leaves servers free to impose such extra
rules. A second run sends `Apollo-Require-Preflight`, as the mini-program and Apollo's clients do, and
shows that GET itself complies: those MAY items then pass, and a mutation over GET is still refused.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from settings import ROOT

AUDIT = ROOT / "tests" / "http" / "audit.mjs"
GET_AUDITS = ("5A70", "D6D5", "6A70")  # GET queries, GET with variables (graphql-response+json and JSON)


def _audit(url: str, *flags: str) -> tuple[int, dict[str, str]]:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "graphql-http").is_dir():
        pytest.fail("the audit needs Node.js and `make assets` (npm ci), which installs graphql-http", pytrace=False)
    run = subprocess.run(
        [node, str(AUDIT), f"{url}/graphql", *flags], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    print(run.stdout, run.stderr)
    statuses = {}
    for line in run.stdout.splitlines():
        status, _, rest = line.partition(" ")
        if status in ("ok", "notice", "warn", "error"):
            statuses[rest.strip().split(" ", 1)[0]] = status
    return run.returncode, statuses


def test_no_must_failure_with_csrf_prevention_on(live_server: str) -> None:
    returncode, statuses = _audit(live_server)
    assert returncode == 0, "a MUST audit failed (see the printed audit)"
    assert "error" not in statuses.values()
    assert len(statuses) > 50, "every audit is listed"
    assert statuses["9C48"] == "ok", "a mutation over GET is refused"
    assert statuses["4655"] == statuses["22EB"] == "ok", "both media types are served"


def test_get_requests_comply_when_they_carry_the_preflight_header(live_server: str) -> None:
    returncode, statuses = _audit(live_server, "--preflight-header")
    assert returncode == 0
    assert [statuses[audit] for audit in GET_AUDITS] == ["ok"] * len(GET_AUDITS)
    assert statuses["9C48"] == "ok"
    # With graphql-response+json, parse, validation and variable errors answer 400 without `data`.
    assert [statuses[audit] for audit in ("556A", "D586", "74FF", "5E5B", "86EE")] == ["ok"] * 5
