"""Rate limits through HTTP, with the default limits: per client address (429 + Retry-After before any
GraphQL work), per signed-in account, and the stricter sign-in and payment buckets (RATE_LIMITED with
`retryAfter` from inside GraphQL). Runs on Redis when TEST_REDIS_URL is set, else in-process."""

from __future__ import annotations

from typing import Any

import httpx
from identity_support import LOGIN, codes, gql, patient_login, sandbox_code
from ratelimit_support import DEFAULTS, LimitedAppFactory

from settings import load_settings
from support import HIGH_RATE_LIMITS

PROBE = "{ __typename }"
REQUEST_PAYMENT = "mutation($id: ID!) { requestConsultPayment(id: $id) { __typename } }"
STAFF_LOGIN = """mutation($u: String!) { staffLogin(username: $u, password: "wrong", totpCode: "000000") { token } }"""


async def post(http: httpx.AsyncClient, query: str = PROBE, **headers: str) -> httpx.Response:
    return await http.post("/graphql", json={"query": query}, headers=headers)


def rate_limited(body: dict[str, Any]) -> list[int]:
    """retryAfter of each RATE_LIMITED error."""
    return [
        e["extensions"]["retryAfter"] for e in body.get("errors") or [] if e["extensions"]["code"] == "RATE_LIMITED"
    ]


def test_the_defaults_are_the_documented_ones() -> None:
    settings = load_settings()
    assert settings.rate_limits_enabled is True
    assert {name: getattr(settings, name) for name in DEFAULTS} == DEFAULTS
    assert settings.trusted_proxies == ""


async def test_an_address_gets_429_with_retry_after_after_exactly_its_limit(limited_app: LimitedAppFactory) -> None:
    async with limited_app() as limited, limited.client("203.0.113.7") as http:
        # given: the default of 600 requests a minute, all made at one instant
        statuses = [(await post(http)).status_code for _ in range(600)]
        assert statuses == [200] * 600
        # when: one more
        refused = await post(http)
        # then: refused before GraphQL, told to come back when the window has passed
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "60"
        assert refused.headers["content-type"] == "application/json"
        assert refused.json() == {
            "errors": [
                {
                    "message": refused.json()["errors"][0]["message"],
                    "extensions": {"code": "RATE_LIMITED", "retryAfter": 60},
                }
            ]
        }
        assert "x-request-id" in refused.headers
        # a refused request is not counted: 20 s later the wait is 40 s, not longer
        limited.clock.advance(seconds=20)
        again = await post(http)
        assert (again.status_code, again.headers["retry-after"]) == (429, "40")
        # another address has a bucket of its own
        async with limited.client("203.0.113.8") as other:
            assert (await post(other)).status_code == 200
        # when the window has slid past the first requests, the address is served again
        limited.clock.advance(seconds=40)
        assert (await post(http)).status_code == 200


async def test_the_limit_and_window_come_from_the_settings(limited_app: LimitedAppFactory) -> None:
    async with (
        limited_app(rate_limit_address_requests=3, rate_limit_address_window_seconds=10) as limited,
        limited.client() as http,
    ):
        for _ in range(3):
            assert (await post(http)).status_code == 200
            limited.clock.advance(seconds=1)
        refused = await post(http)  # at t=3; the first request (t=0) leaves the window at t=10
        assert (refused.status_code, refused.headers["retry-after"]) == (429, "7")
        limited.clock.advance(seconds=7)
        assert (await post(http)).status_code == 200
        assert (await post(http)).status_code == 429  # t=11 leaves one slot freed, now taken


async def test_other_routes_are_not_limited(limited_app: LimitedAppFactory) -> None:
    async with limited_app(rate_limit_address_requests=1) as limited, limited.client() as http:
        assert (await post(http)).status_code == 200
        assert [(await http.get("/healthz")).status_code for _ in range(3)] == [200, 200, 200]
        assert (await post(http)).status_code == 429


async def test_x_forwarded_for_counts_only_behind_a_trusted_proxy(limited_app: LimitedAppFactory) -> None:
    async with limited_app(rate_limit_address_requests=2, trusted_proxies="10.0.0.0/8") as limited:
        # a client talking directly cannot escape its bucket by writing the header itself
        async with limited.client("198.51.100.20") as direct:
            for n in range(3):
                response = await post(direct, **{"x-forwarded-for": f"192.0.2.{n}"})
            assert response.status_code == 429
        # behind the load balancer, each client (the hop the proxy added) has its own bucket
        async with limited.client("10.1.2.3") as proxy:
            first = [(await post(proxy, **{"x-forwarded-for": "192.0.2.50"})).status_code for _ in range(3)]
            # what the client wrote itself (left of the real address) changes nothing
            spoofed = await post(proxy, **{"x-forwarded-for": "1.2.3.4, 192.0.2.50"})
            second = await post(proxy, **{"x-forwarded-for": "192.0.2.51, 10.9.9.9"})
            # a proxy that writes the client's port too: still the client's bucket, not the proxy's
            with_port = [(await post(proxy, **{"x-forwarded-for": "192.0.2.52:4711"})).status_code for _ in range(2)]
            other_port = await post(proxy, **{"x-forwarded-for": "192.0.2.52:4712"})
            ipv6 = await post(proxy, **{"x-forwarded-for": "[2001:db8::7]:443"})
        assert first == [200, 200, 429]
        assert spoofed.status_code == 429
        assert second.status_code == 200
        assert (with_port, other_port.status_code, ipv6.status_code) == ([200, 200], 429, 200)


async def test_rate_limits_can_be_turned_off(limited_app: LimitedAppFactory) -> None:
    async with (
        limited_app(rate_limits_enabled=False, rate_limit_address_requests=1, rate_limit_login_requests=1) as limited,
        limited.client() as http,
    ):
        assert [(await post(http)).status_code for _ in range(3)] == [200, 200, 200]
        bodies = [await gql(http, LOGIN, {"code": "no-such-user"}) for _ in range(3)]
        assert all(not rate_limited(body) for body in bodies)


async def test_a_signed_in_account_has_its_own_limit_across_addresses(limited_app: LimitedAppFactory) -> None:
    async with limited_app() as limited:
        async with limited.client("192.0.2.1") as first:
            token = await patient_login(first, "rate-account")
            # given: 299 operations of the account (the default is 300 a minute) from one address
            for _ in range(299):
                assert "errors" not in await gql(first, PROBE, token=token)
        # when: the 300th and 301st come from another address (a phone switching networks)
        async with limited.client("192.0.2.2") as second:
            allowed = await gql(second, PROBE, token=token)
            refused = await gql(second, PROBE, token=token)
            # then: the account is limited wherever it comes from; signed out, the address is still served
            anonymous = await gql(second, PROBE)
        assert "errors" not in allowed
        assert refused["data"] is None
        assert rate_limited(refused) == [60]
        assert "errors" not in anonymous


async def test_sign_in_attempts_have_a_stricter_bucket(limited_app: LimitedAppFactory) -> None:
    async with limited_app() as limited, limited.client("192.0.2.30") as http:
        # given: 10 sign-in attempts from one address (the default per 5 minutes), failed or not
        bodies = [await gql(http, LOGIN, {"code": "bad code"}) for _ in range(6)]
        bodies += [await gql(http, STAFF_LOGIN, {"u": f"nobody{n}"}) for n in range(4)]
        assert all(codes(body) == ["UNAUTHENTICATED"] for body in bodies), bodies
        # when: the 11th, even with a good code
        refused = await gql(http, LOGIN, {"code": sandbox_code("rate-login")})
        # then: nothing is tried; other operations from the address go on
        assert rate_limited(refused) == [300]
        assert refused["data"] is None
        # over HTTP, the endpoint answers such a result 429 with Retry-After (refused attempts do not count)
        response = await http.post("/graphql", json={"query": LOGIN, "variables": {"code": "again"}})
        assert (response.status_code, response.headers["retry-after"]) == (429, "300")
        assert "errors" not in await gql(http, PROBE)
        limited.clock.advance(seconds=300)
        assert "errors" not in await gql(http, LOGIN, {"code": sandbox_code("rate-login")})


async def test_aliases_do_not_multiply_sign_in_attempts(limited_app: LimitedAppFactory) -> None:
    def attempts(count: int, start: int) -> str:
        return (
            "mutation { "
            + " ".join(f'a{n}: login(code: "guess{n}") {{ token }}' for n in range(start, start + count))
            + " }"
        )

    async with limited_app() as limited, limited.client("192.0.2.31") as http:
        # six aliased attempts count six of the ten the bucket holds
        assert not rate_limited(await gql(http, attempts(6, 0)))
        # six more would make twelve: refused whole, and not counted
        assert rate_limited(await gql(http, attempts(6, 6))) == [300]
        # four fit, and use the rest of the bucket
        assert not rate_limited(await gql(http, attempts(4, 12)))
        assert rate_limited(await gql(http, LOGIN, {"code": "one more"})) == [300]


async def test_payment_mutations_have_a_stricter_bucket_per_account(limited_app: LimitedAppFactory) -> None:
    async with limited_app() as limited, limited.client("192.0.2.40") as http:
        token = await patient_login(http, "rate-payer")
        other = await patient_login(http, "rate-payer-2")
        # given: 20 payment requests (the default per 5 minutes), here for an order that does not exist
        for _ in range(20):
            assert not rate_limited(await gql(http, REQUEST_PAYMENT, {"id": "no-such-order"}, token))
        # when / then: the 21st is refused, other operations of the account are not, nor another payer
        assert rate_limited(await gql(http, REQUEST_PAYMENT, {"id": "no-such-order"}, token)) == [300]
        assert "errors" not in await gql(http, PROBE, token=token)
        assert not rate_limited(await gql(http, REQUEST_PAYMENT, {"id": "no-such-order"}, other))


async def test_redis_down_lets_requests_through(limited_app: LimitedAppFactory) -> None:
    # given: a Redis that cannot be reached (nothing listens on port 1), and limits of 1
    async with (
        limited_app(
            redis_url="redis://127.0.0.1:1/0", rate_limit_address_requests=1, rate_limit_login_requests=1
        ) as limited,
        limited.client() as http,
    ):
        # then: availability first, every request is served
        assert [(await post(http)).status_code for _ in range(3)] == [200, 200, 200]
        bodies = [await gql(http, LOGIN, {"code": "bad code"}) for _ in range(2)]
        assert [codes(body) for body in bodies] == [["UNAUTHENTICATED"], ["UNAUTHENTICATED"]]


def test_the_shared_test_settings_do_not_throttle_the_suite() -> None:
    assert all(HIGH_RATE_LIMITS[name] > DEFAULTS[name] for name in HIGH_RATE_LIMITS)
