"""When the HIS is slow, down or odd, answers still come at once: the last known data marked
`stale` with its `asOf` and a HIS_UNAVAILABLE error, never a 5xx, never a hang. Faults are injected
into the simulator; outcomes are checked by counting requests and moving a fake clock."""

from __future__ import annotations

from typing import Any

from his_support import account_with, person

QUERY = """query($id: ID!) { healthRecord(profileId: $id) { stale asOf basicInfo { maskedName }
  reports(first: 5) { totalCount nodes { id missingResultCount } } } }"""
BOTH = """query($a: ID!, $b: ID!) {
  own: healthRecord(profileId: $a) { stale reports(first: 1) { totalCount } }
  parent: healthRecord(profileId: $b) { stale reports(first: 1) { totalCount } } }"""


async def _post(h: Any, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await h.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text  # never a 5xx
    body: dict[str, Any] = response.json()
    return body


async def test_down_with_nothing_cached_still_answers_with_a_clear_code(his_app: Any) -> None:
    async with his_app(his_retries=2) as h:
        token, (profile,) = await account_with(h.http, "outage-cold", person(2))
        h.simulator.faults.update({"status": 503})
        before = h.simulator.stats.count()
        body = await _post(h, token, QUERY, {"id": profile})
        record = body["data"]["healthRecord"]
        assert record["basicInfo"] == {"maskedName": "李*"}  # from our own database
        assert (record["reports"], record["stale"], record["asOf"]) == (None, False, None)
        assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
            (["healthRecord", "reports"], "HIS_UNAVAILABLE")
        ]
        # Bounded: three HIS calls (patient, visits, reports), three attempts each at most.
        assert 3 <= h.simulator.stats.count() - before <= 9


async def test_down_after_a_read_serves_the_last_known_data_marked_stale(his_app: Any) -> None:
    async with his_app(his_record_soft_ttl_seconds=60, his_breaker_failures=3) as h:
        token, (profile,) = await account_with(h.http, "outage-stale", person(2))
        fresh = await _post(h, token, QUERY, {"id": profile})
        first = fresh["data"]["healthRecord"]
        assert (first["stale"], "errors" in fresh) == (False, False)

        h.clock.advance(seconds=61)
        h.simulator.faults.update({"status": 503})
        body = await _post(h, token, QUERY, {"id": profile})
        record = body["data"]["healthRecord"]
        assert (record["stale"], record["asOf"]) == (True, first["asOf"])
        assert record["reports"] == first["reports"]
        (error,) = body["errors"]
        assert error["path"] == ["healthRecord"]
        assert error["extensions"] == {"code": "HIS_UNAVAILABLE", "stale": True, "asOf": first["asOf"]}

        # The circuit is open now: the HIS is not asked at all, the answer is the same at once.
        asked = h.simulator.stats.count()
        again = await _post(h, token, QUERY, {"id": profile})
        assert again["data"] == body["data"]
        assert h.simulator.stats.count() == asked


async def test_a_slow_his_is_not_waited_for_and_the_refresh_lands_in_the_cache(his_app: Any) -> None:
    async with his_app(his_record_soft_ttl_seconds=60, his_stale_wait_ms=20) as h:
        token, (profile,) = await account_with(h.http, "outage-slow", person(2))
        first = (await _post(h, token, QUERY, {"id": profile}))["data"]["healthRecord"]
        h.clock.advance(seconds=61)
        h.simulator.faults.update({"latency": 0.3})
        body = await _post(h, token, QUERY, {"id": profile})
        assert (body["data"]["healthRecord"]["stale"], body["data"]["healthRecord"]["asOf"]) == (True, first["asOf"])
        # Stale-while-revalidate: the refresh went on in the background and filled the cache.
        await h.settle()
        h.simulator.faults.reset()
        asked = h.simulator.stats.count()
        refreshed = await _post(h, token, QUERY, {"id": profile})
        assert "errors" not in refreshed
        record = refreshed["data"]["healthRecord"]
        assert record["stale"] is False and record["asOf"] > first["asOf"]
        assert h.simulator.stats.count() == asked, "served from the refreshed cache"


async def test_a_hanging_his_never_hangs_the_answer(his_app: Any) -> None:
    async with his_app(his_attempt_timeout_ms=50, his_deadline_ms=150, his_retries=1) as h:
        token, (profile,) = await account_with(h.http, "outage-hang", person(2))
        h.simulator.faults.update({"hang": True})
        body = await _post(h, token, QUERY, {"id": profile})
        assert body["data"]["healthRecord"]["reports"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["HIS_UNAVAILABLE"]


async def test_the_his_calls_of_one_query_run_at_the_same_time(his_app: Any) -> None:
    # Each request is held until six are in flight together: one after another, they would time out.
    async with his_app(his_attempt_timeout_ms=1500, his_deadline_ms=3000, his_retries=0) as h:
        token, (own, parent) = await account_with(h.http, "outage-parallel", person(3), person(3, parent=True))
        h.simulator.faults.update({"barrier": 6})
        body = await _post(h, token, BOTH, {"a": own, "b": parent})
        assert "errors" not in body, body["errors"]
        assert body["data"]["own"]["reports"]["totalCount"] > 0
        assert body["data"]["parent"]["reports"]["totalCount"] > 0
        assert h.simulator.stats.max_in_flight >= 6


async def test_odd_servers_and_odd_answers(his_app: Any) -> None:
    async with his_app() as h:
        token, (profile,) = await account_with(h.http, "outage-odd", person(2))
        normal = (await _post(h, token, QUERY, {"id": profile}))["data"]["healthRecord"]["reports"]
    for faults in ({"ignore_include": True}, {"strict_sort": True}):
        async with his_app() as h:
            h.simulator.faults.update(faults)
            body = await _post(h, token, QUERY, {"id": profile})
            assert "errors" not in body, (faults, body)
            assert body["data"]["healthRecord"]["reports"] == normal, faults
    async with his_app() as h:
        h.simulator.faults.update({"malformed_entry": True, "only": "DiagnosticReport"})
        body = await _post(h, token, QUERY, {"id": profile})
        reports = body["data"]["healthRecord"]["reports"]
        assert "errors" not in body and reports["totalCount"] == normal["totalCount"]
        assert sum(n["missingResultCount"] for n in reports["nodes"]) == 1  # one result skipped, logged
    async with his_app(his_retries=2) as h:
        h.simulator.faults.update({"malformed_json": True})
        body = await _post(h, token, QUERY, {"id": profile})
        assert [e["extensions"]["code"] for e in body["errors"]] == ["HIS_UNAVAILABLE"]


async def test_his_problems_are_logged_without_personal_or_health_data(his_app: Any, caplog: Any) -> None:
    import logging
    import re

    caplog.set_level(logging.DEBUG, logger="hospital_bff")
    async with his_app(his_retries=1) as h:
        token, (profile,) = await account_with(h.http, "outage-logs", person(1, parent=True))
        h.simulator.faults.update({"malformed_entry": True})
        await _post(h, token, QUERY, {"id": profile})
        h.clock.advance(days=2)
        h.simulator.faults.update({"malformed_entry": False, "status": 503})
        await _post(h, token, QUERY, {"id": profile})
    text = "\n".join(caplog.handler.format(r) for r in caplog.records if r.name.startswith("hospital_bff"))
    assert "skipped malformed Observation" in text and "HTTP 503" in text, "the problems were logged"
    assert not re.search(r"(?<![0-9])[1-8][0-9]{16}[0-9Xx]", text), "no resident ID numbers"
    assert "张建国" not in text and "P100011" not in text and "13900000001" not in text
