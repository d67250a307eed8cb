"""The HIS goes down under a live server: a real uvicorn process reads a real HIS (the simulator in a
process of its own, over TCP) through a proxy that is cut and restored. While it is cut, health
records come from the cache marked stale with HIS_UNAVAILABLE, over HTTP with status 200; once it is
back, fresh data again, with no restart.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fault_support import LiveServer, TcpProxy, free_port, server_env, wait_until
from his_support import account_with, person

from settings import ROOT

QUERY = """query($id: ID!) { healthRecord(profileId: $id) { stale asOf basicInfo { maskedName }
  reports(first: 5) { totalCount nodes { id } } } }"""


@pytest.fixture
def his_proxy(tmp_path: Path) -> Iterator[TcpProxy]:
    """The HIS simulator as its own process, reached through a proxy the test can cut."""
    port = free_port()
    with (tmp_path / "his.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "datasources.his.simulator", "--port", str(port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, "the HIS simulator starting")
        proxy = TcpProxy("127.0.0.1", port)
        proxy.restore()
        yield proxy
        proxy.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def server(backend: Any, his_proxy: TcpProxy, tmp_path: Path) -> Iterator[LiveServer]:
    env = server_env(
        backend.database_url,
        backend.redis_url,
        f"{backend.redis_prefix}his-live-{uuid.uuid4().hex[:6]}:",
        HIS_FHIR_BASE_URL=f"http://127.0.0.1:{his_proxy.port}/fhir",
        HIS_RECORD_SOFT_TTL_SECONDS="0",  # every read asks the HIS, so the outage shows at once
        HIS_BREAKER_FAILURES="100",  # keep the circuit closed: recovery is seen on the next request
        HIS_RETRY_BACKOFF_MS="0",
    )
    live = LiveServer(env, tmp_path)
    yield live
    live.stop()


async def _post(http: httpx.AsyncClient, token: str, profile: str) -> dict[str, Any]:
    response = await http.post(
        "/graphql", json={"query": QUERY, "variables": {"id": profile}}, headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text  # never a 5xx
    body: dict[str, Any] = response.json()
    return body


async def test_his_down_and_back_under_a_live_server(server: LiveServer, his_proxy: TcpProxy) -> None:
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        # given: a patient whose record was read once while the HIS answered
        token, (profile,) = await account_with(http, f"his-live-{uuid.uuid4().hex[:6]}", person(2))
        fresh = await _post(http, token, profile)
        assert "errors" not in fresh, fresh["errors"]
        first = fresh["data"]["healthRecord"]
        assert first["stale"] is False and first["reports"]["totalCount"] > 0

        # when: the HIS becomes unreachable
        his_proxy.cut()

        # then: the last known record, marked stale, with a HIS_UNAVAILABLE error at its path
        body = await _post(http, token, profile)
        record = body["data"]["healthRecord"]
        assert (record["stale"], record["asOf"], record["reports"]) == (True, first["asOf"], first["reports"])
        assert record["basicInfo"] == first["basicInfo"]
        assert [(e["path"], e["extensions"]["code"], e["extensions"]["stale"]) for e in body["errors"]] == [
            (["healthRecord"], "HIS_UNAVAILABLE", True)
        ]

        # when: the HIS is back; then: fresh data again from the same server
        his_proxy.restore()
        again = await _post(http, token, profile)
        assert "errors" not in again, again["errors"]
        assert again["data"]["healthRecord"]["stale"] is False
        assert again["data"]["healthRecord"]["reports"] == first["reports"]
