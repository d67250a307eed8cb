"""Consult flows log no health data, names, openids, payment signatures or video tokens."""

from __future__ import annotations

import logging

import httpx
import pytest
from consults_support import create, new_patient, order_of, pay, step
from starlette.applications import Starlette

COMPLAINT = "间歇性胸痛三个月伴夜间盗汗"


async def test_an_order_paid_and_refunded_leaves_nothing_personal_in_the_logs(
    app: Starlette, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Production levels for libraries (INFO; aiosqlite's DEBUG lines quote bound parameters), all of ours.
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="hospital_bff")
    patient = await new_patient(app, http)
    created = await create(http, patient, "RAPID", complaint=COMPLAINT, history="糖尿病史五年")
    order = created["order"]
    await pay(http, patient, order["id"])
    order_of(await step(http, patient.token, "cancelConsultOrder", id=order["id"], reason="改去线下"))
    sandbox = app.state.resources.pay_sandbox
    openid = sandbox.orders[order["orderNo"]].openid
    text = "\n".join(caplog.handler.format(record) for record in caplog.records)
    for secret in (COMPLAINT, "糖尿病史五年", "王小明", openid, created["payment"]["paySign"], patient.token):
        assert secret not in text
