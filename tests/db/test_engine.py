"""The engine keeps bound values (personal data) out of SQL logs and database errors."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from datasources.db.engine import create_engine
from settings import Settings

SECRET = "bound-value-7f3a9c51"
# Fails on every database whatever the value, so the server's own message never quotes it.
FAILING = text("SELECT no_such_column FROM staff WHERE name = :name")


async def test_a_failing_statement_does_not_show_its_bound_values(app: Any) -> None:
    engine = app.state.resources.engine
    with pytest.raises(DBAPIError) as raised:
        async with engine.connect() as conn:
            await conn.execute(FAILING, {"name": SECRET})
    rendered = "".join(traceback.format_exception(raised.value))
    assert "no_such_column" in rendered  # the statement is still there to debug with
    assert SECRET not in rendered


async def test_echoed_statements_do_not_log_bound_values(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    engine = create_engine(settings.database_url, echo=True)
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"), pytest.raises(DBAPIError):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT id FROM staff WHERE name = :name"), {"name": SECRET})
                await conn.execute(FAILING, {"name": SECRET})
    finally:
        await engine.dispose()
    assert "WHERE name = " in caplog.text  # the statements were logged
    assert SECRET not in caplog.text


def test_only_sqlite_errors_of_reach_count_as_an_unreachable_database() -> None:
    import sqlite3

    from sqlalchemy import exc

    from datasources.db.engine import database_unreachable

    def wrapped(message: str) -> exc.OperationalError:
        return exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))

    # a missing migration or a bad statement is a bug to see in the log, not an outage to wait out
    assert not database_unreachable(wrapped("no such table: consults"))
    assert not database_unreachable(wrapped('near "SELEC": syntax error'))
    assert database_unreachable(wrapped("unable to open database file"))
    assert database_unreachable(wrapped("database is locked"))
    assert database_unreachable(ConnectionRefusedError())
