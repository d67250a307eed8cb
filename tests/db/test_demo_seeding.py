"""Demo data never replaces data silently: it fills an empty database only, replaces other demo data
only with --force (never in prod), and leaves data that is not demo data alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import text

import cli
from datasources.db.demo import SeedOutcome, seed_demo_data
from datasources.db.engine import create_engine
from datasources.db.migrate import upgrade_to_head
from settings import ROOT, Settings, load_settings
from support import ANCHOR, PRODUCTION_ENV

PROD = {"ENV": "prod", **PRODUCTION_ENV}


async def _scalar(url: str, sql: str) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(text(sql))
    finally:
        await engine.dispose()


async def _consults(url: str) -> int:
    return int(await _scalar(url, "SELECT COUNT(*) FROM consults"))


async def _seeded_scale(url: str) -> float:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            value = (await conn.execute(text("SELECT value FROM app_meta WHERE key = 'demo_data'"))).scalar_one()
    finally:
        await engine.dispose()
    return float((json.loads(value) if isinstance(value, str) else value)["scale"])


async def test_another_scale_replaces_demo_data_only_with_force(empty_database: str) -> None:
    engine = create_engine(empty_database)
    try:
        await upgrade_to_head(engine)
        # given: an empty database gets the demo data
        first = await seed_demo_data(engine, scale=0.01, anchor=ANCHOR)
        assert (first.outcome, first.consults) == (SeedOutcome.SEEDED, 1000)
        # when: another scale without force
        other = await seed_demo_data(engine, scale=0.02, anchor=ANCHOR)
        # then: nothing changes
        assert other.outcome is SeedOutcome.OTHER_DEMO_DATA and other.skipped
        assert (await _consults(empty_database), await _seeded_scale(empty_database)) == (1000, 0.01)
        # the same data set again is nothing to do
        assert (await seed_demo_data(engine, scale=0.01, anchor=ANCHOR)).outcome is SeedOutcome.ALREADY_PRESENT
        # when: with force
        forced = await seed_demo_data(engine, scale=0.02, anchor=ANCHOR, force=True)
        # then: the demo data is rebuilt at the new scale
        assert (forced.outcome, forced.consults) == (SeedOutcome.REPLACED, 2000)
        assert (await _consults(empty_database), await _seeded_scale(empty_database)) == (2000, 0.02)
    finally:
        await engine.dispose()


async def test_data_that_is_not_demo_data_is_never_touched(empty_database: str) -> None:
    # given: a migrated database holding one department of its own, and no demo data marker
    engine = create_engine(empty_database)
    try:
        await upgrade_to_head(engine)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO departments (id, code, name, description, location, registration_kind, "
                    "registration_target) VALUES (1, 'OWN', '本院科室', '', '', 'MINI_PROGRAM_PAGE', '/p')"
                )
            )
        for force in (False, True):
            # when
            report = await seed_demo_data(engine, scale=0.01, anchor=ANCHOR, force=force)
            # then
            assert report.outcome is SeedOutcome.NOT_DEMO_DATA and report.skipped
        assert await _scalar(empty_database, "SELECT COUNT(*) FROM departments") == 1
        assert await _scalar(empty_database, "SELECT code FROM departments") == "OWN"
        assert await _consults(empty_database) == 0
    finally:
        await engine.dispose()


def _settings(url: str, **overrides: Any) -> Settings:
    return load_settings(database_url=url, **overrides)


async def test_serve_fills_an_empty_database_and_leaves_other_demo_data_alone(
    empty_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: development defaults on an empty database
    settings = _settings(empty_database, env="dev", demo_scale=0.01)
    assert settings.seeds_demo_data
    # when
    await cli.prepare(settings)
    # then
    assert await _consults(empty_database) == 1000
    # when: the server starts again with another DEMO_SCALE
    await cli.prepare(_settings(empty_database, env="dev", demo_scale=0.02))
    # then: the data stays, and the output says why and what to do
    assert (await _consults(empty_database), await _seeded_scale(empty_database)) == (1000, 0.01)
    out = capsys.readouterr().out
    assert "NOT SEEDED" in out and "scale 0.01 (1,000 consults)" in out and "scale 0.02 (2,000 consults)" in out
    assert "--scale 0.02 --force" in out


async def test_serve_in_prod_migrates_without_demo_data(empty_database: str) -> None:
    settings = _settings(empty_database, demo_scale=0.01, **{k.lower(): v for k, v in PROD.items()})
    assert not settings.seeds_demo_data
    await cli.prepare(settings)
    assert await _scalar(empty_database, "SELECT COUNT(*) FROM departments") == 0
    assert await _scalar(empty_database, "SELECT COUNT(*) FROM alembic_version") == 1


def _cli(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"ENV", "SEED_DEMO_DATA", "DEMO_SCALE", *PROD}}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env={**base, "DATABASE_URL": url, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_seed_command_with_another_scale_says_so_and_changes_nothing(empty_database: str) -> None:
    # given
    engine = create_engine(empty_database)
    try:
        await upgrade_to_head(engine)
        await seed_demo_data(engine, scale=0.01, anchor=ANCHOR)
    finally:
        await engine.dispose()
    # when
    done = _cli(empty_database, "seed", "--scale", "0.02")
    # then
    assert done.returncode == 1, done.stderr
    assert "NOT SEEDED" in done.stdout and "Nothing was changed" in done.stdout
    assert "--scale 0.02 --force" in done.stdout
    assert (await _consults(empty_database), await _seeded_scale(empty_database)) == (1000, 0.01)


async def test_seed_force_is_refused_in_prod(empty_database: str) -> None:
    # given
    engine = create_engine(empty_database)
    try:
        await upgrade_to_head(engine)
        await seed_demo_data(engine, scale=0.01, anchor=ANCHOR)
    finally:
        await engine.dispose()
    # when
    done = _cli(empty_database, "seed", "--scale", "0.02", "--force", **PROD)
    # then
    assert done.returncode == 2
    assert "ENV=prod" in done.stderr
    assert (await _consults(empty_database), await _seeded_scale(empty_database)) == (1000, 0.01)
