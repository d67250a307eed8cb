"""Order lists: newest first, paginated, one page in a fixed number of statements however long."""

from __future__ import annotations

from typing import Any

import httpx
from consults_support import ORDER, create_ok, new_patient, ok, pay
from starlette.applications import Starlette

PAGE = (
    "query($first: Int!, $after: String, $service: ConsultService) {"
    " consultOrders(first: $first, after: $after, service: $service) {"
    f" totalCount pageInfo {{ hasNextPage hasPreviousPage endCursor }} nodes {{ {ORDER} }} }} }}"
)


async def test_the_patient_sees_only_their_orders_newest_first(app: Starlette, http: httpx.AsyncClient) -> None:
    patient = await new_patient(app, http)
    other = await new_patient(app, http)
    await create_ok(http, other, "RAPID", complaint="别人的")
    ids = [(await create_ok(http, patient, "RAPID", complaint=f"第{i}次"))["id"] for i in range(3)]
    first = (await ok(http, PAGE, {"first": 2}, patient.token))["consultOrders"]
    assert first["totalCount"] == 3
    assert [n["id"] for n in first["nodes"]] == [ids[2], ids[1]]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (await ok(http, PAGE, {"first": 2, "after": first["pageInfo"]["endCursor"]}, patient.token))["consultOrders"]
    assert [n["id"] for n in rest["nodes"]] == [ids[0]]
    assert (rest["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasPreviousPage"]) == (False, True)
    only = (await ok(http, PAGE, {"first": 10, "service": "TEAM"}, patient.token))["consultOrders"]
    assert only["totalCount"] == 0


async def test_a_page_of_orders_takes_the_same_statements_for_2_or_8_orders(
    app: Starlette, http: httpx.AsyncClient, assert_num_queries: Any
) -> None:
    patient = await new_patient(app, http)
    for i in range(8):
        order = await create_ok(http, patient, "RAPID", complaint=f"第{i}次")
        if i % 2:
            await pay(http, patient, order["id"])
    with assert_num_queries(7) as small:
        await ok(http, PAGE, {"first": 2}, patient.token)
    with assert_num_queries(len(small.statements)):
        await ok(http, PAGE, {"first": 8}, patient.token)


async def test_an_order_outlives_the_removal_of_its_profile(app: Starlette, http: httpx.AsyncClient) -> None:
    patient = await new_patient(app, http)
    order = await create_ok(http, patient, "RAPID", complaint="咽痛")
    await pay(http, patient, order["id"])
    removed = await ok(
        http, "mutation($id: ID!) { removeProfile(id: $id) { __typename } }", {"id": patient.profile_id}, patient.token
    )
    assert removed["removeProfile"]["__typename"] == "RemoveProfileSuccess"
    kept = (await ok(http, PAGE, {"first": 5}, patient.token))["consultOrders"]["nodes"][0]
    assert (kept["id"], kept["profileId"], kept["patient"]["name"]) == (order["id"], None, "王小明")
    assert kept["appointment"]["complaint"] == "咽痛"
