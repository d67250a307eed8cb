"""/metrics through HTTP, parsed with prometheus_client's own parser: each counter moves by exactly the
requests the test made."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from identity_support import LOGIN, gql, sandbox_code
from prometheus_client.parser import text_string_to_metric_families
from ratelimit_support import LimitedAppFactory
from sqlalchemy import event
from starlette.applications import Starlette

from settings import ConfigurationError, load_settings
from support import PRODUCTION_ENV

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(http: httpx.AsyncClient, **headers: str) -> Samples:
    response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


@contextmanager
def counting_statements(app: Starlette) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    engine = app.state.resources.engine.sync_engine
    event.listen(engine, "after_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "after_cursor_execute", record)


async def test_requests_operations_and_errors_are_counted(own_app: LimitedAppFactory) -> None:
    async with own_app() as built, built.client() as http:
        before = await scrape(http)
        # when: 3 named queries, 2 anonymous ones, 1 with a name too long for a label, 2 needing a session
        for _ in range(3):
            await gql(http, "query HomeProbe { __typename }")
        for _ in range(2):
            await gql(http, "{ __typename }")
        long_name = "Q" * 70
        await gql(http, f"query {long_name} {{ __typename }}")
        for _ in range(2):
            await gql(http, "query Me { me { id } }")
        await http.get("/healthz")
        after = await scrape(http)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "hbff_http_requests_total"
    assert delta(requests, route="/graphql", method="POST", status="200") == 8
    assert delta(requests, route="/healthz", method="GET", status="200") == 1
    assert delta(requests, route="/metrics", method="GET", status="200") == 1  # the first scrape
    duration = "hbff_graphql_operation_duration_seconds_count"
    assert delta(duration, operation="HomeProbe", type="query") == 3
    assert delta(duration, operation="anonymous", type="query") == 2
    assert delta(duration, operation="other", type="query") == 1
    assert delta(duration, operation="Me", type="query") == 2
    assert not any(long_name in dict(labels).get("operation", "") for _, labels in after)
    assert delta("hbff_graphql_errors_total", code="UNAUTHENTICATED") == 2


async def test_rate_limit_rejections_are_counted_by_bucket(own_app: LimitedAppFactory) -> None:
    async with own_app(rate_limit_address_requests=2, rate_limit_login_requests=1) as built:
        async with built.client("192.0.2.60") as metrics_reader:
            before = await scrape(metrics_reader)
        async with built.client("192.0.2.61") as http:
            statuses = [(await http.post("/graphql", json={"query": "{ __typename }"})).status_code for _ in range(4)]
        async with built.client("192.0.2.62") as http:
            await gql(http, LOGIN, {"code": "bad"})
            await gql(http, LOGIN, {"code": "bad"})
        async with built.client("192.0.2.60") as metrics_reader:
            after = await scrape(metrics_reader)
    assert statuses == [200, 200, 429, 429]
    rejections = "hbff_rate_limit_rejections_total"
    assert value(after, rejections, bucket="address") - value(before, rejections, bucket="address") == 2
    assert value(after, rejections, bucket="login") - value(before, rejections, bucket="login") == 1
    requests = "hbff_http_requests_total"
    labels = {"route": "/graphql", "method": "POST", "status": "429"}
    # two refused by the address bucket, one by the sign-in bucket (answered 429 by the endpoint too)
    assert value(after, requests, **labels) - value(before, requests, **labels) == 3
    codes = "hbff_graphql_errors_total"
    assert value(after, codes, code="RATE_LIMITED") - value(before, codes, code="RATE_LIMITED") == 1


async def test_redis_failures_of_the_rate_limits_are_counted(own_app: LimitedAppFactory) -> None:
    async with own_app(redis_url="redis://127.0.0.1:1/0") as built, built.client() as http:
        before = await scrape(http)
        for _ in range(3):
            await http.post("/graphql", json={"query": "{ __typename }"})
        after = await scrape(http)
    failures = "hbff_rate_limit_store_failures_total"
    # the three requests, and the scrape between them is not limited
    assert value(after, failures, bucket="address") - value(before, failures, bucket="address") == 3


async def test_database_statements_and_pool_are_measured(own_app: LimitedAppFactory) -> None:
    async with own_app() as built, built.client() as http:
        before = await scrape(http)
        with counting_statements(built.app) as statements:
            body = await gql(http, "{ departments(first: 5) { totalCount edges { node { name } } } }")
        after = await scrape(http)
        engine = built.app.state.resources.engine
        expected_size = 10 if engine.dialect.name == "postgresql" else 5  # DATABASE_POOL_SIZE; SQLAlchemy's 5
    assert "errors" not in body
    assert statements
    name = "hbff_db_statement_duration_seconds_count"
    assert total(after, name) - total(before, name) == len(statements)
    assert value(after, name, statement="SELECT") - value(before, name, statement="SELECT") == len(statements)
    assert value(after, "hbff_db_pool_checked_out") == 0  # between requests every connection is back
    assert value(after, "hbff_db_pool_size") == expected_size


async def test_upstream_requests_are_timed_by_upstream_and_outcome(own_app: LimitedAppFactory) -> None:
    async with own_app() as built, built.client() as http:
        before = await scrape(http)
        for n in range(2):
            assert "errors" not in await gql(http, LOGIN, {"code": sandbox_code(f"metrics-{n}")})
        after = await scrape(http)
    name = "hbff_upstream_request_duration_seconds_count"
    # each sign-in asks WeChat (here its sandbox, mounted on the shared client) exactly once
    assert (
        value(after, name, upstream="wechat", outcome="2xx") - value(before, name, upstream="wechat", outcome="2xx")
        == 2
    )


async def test_metrics_need_the_token_when_one_is_set(own_app: LimitedAppFactory) -> None:
    token = load_settings(metrics_token="s" * 20).metrics_token
    async with own_app(metrics_token=token) as built, built.client() as http:
        assert (await http.get("/metrics")).status_code == 401
        assert (await http.get("/metrics", headers={"authorization": "Bearer wrong"})).status_code == 401
        samples = await scrape(http, authorization="Bearer " + "s" * 20)
    assert total(samples, "hbff_http_requests_total") > 0


async def test_metrics_can_be_turned_off(own_app: LimitedAppFactory) -> None:
    async with own_app(metrics_enabled=False) as built, built.client() as http:
        assert (await http.get("/metrics")).status_code == 404


def test_metrics_are_off_in_prod_unless_enabled_with_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, setting in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, setting)
    monkeypatch.setenv("ENV", "prod")
    assert load_settings().serves_metrics is False
    monkeypatch.setenv("METRICS_ENABLED", "true")
    with pytest.raises(ConfigurationError, match="METRICS_TOKEN"):
        load_settings()
    monkeypatch.setenv("METRICS_TOKEN", "a-long-enough-metrics-token")
    assert load_settings().serves_metrics is True


def test_metrics_are_on_in_dev_by_default() -> None:
    assert load_settings(env="dev").serves_metrics is True
