"""The consult jobs: a periodic task in the server (off in tests), and a command."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from consults_support import create_ok, new_patient, read
from starlette.applications import Starlette

import cli
from app import create_app
from settings import Settings
from support import ANCHOR


async def test_the_command_runs_the_jobs_once(app: Starlette, http: httpx.AsyncClient, settings: Settings) -> None:
    patient = await new_patient(app, http)
    order = await create_ok(http, patient, "RAPID", complaint="头晕")
    said = await cli.consult_jobs(settings, now=ANCHOR + timedelta(minutes=31))
    assert said.startswith("consult jobs: ") and "unpaid orders closed" in said
    closed = await read(http, patient, order["id"])
    assert (closed["paymentState"], closed["serviceState"]) == ("CLOSED", "CANCELLED")


def test_the_command_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "consult-jobs" in capsys.readouterr().out


async def test_the_server_runs_the_jobs_periodically_when_enabled(settings: Settings) -> None:
    runs: list[object] = []
    application = create_app(
        settings.model_copy(update={"consult_jobs_enabled": True, "consult_jobs_interval_seconds": 0.1}),
        clock=lambda: ANCHOR,
    )
    async with application.router.lifespan_context(application):
        consults = application.state.resources.consults

        async def counted(*, now: object) -> object:
            runs.append(now)
            raise RuntimeError("a failing run is logged; the loop goes on")

        consults.run_jobs = counted
        for _ in range(100):
            if len(runs) >= 2:
                break
            await asyncio.sleep(0.05)
    assert len(runs) >= 2 and runs[0] == ANCHOR
