"""The async engine and the session factory handed to every request."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """Build the engine; SQLite gets foreign keys and WAL so readers never wait for the writer.

    With PostgreSQL, pool_pre_ping tests a pooled connection before handing it out, so that after a
    database restart (or a cut network) the dead connections are replaced without restarting the
    application. A SQLite connection is a file handle in this process: nothing between can die, and
    the ping would cost a round trip to the driver's thread on every checkout.

    Bound values never appear in SQL logs or in the text of database errors (hide_parameters):
    they carry personal data, and errors end up in logs and tracebacks.
    """
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if url.startswith("postgresql"):
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
    ensure_math_functions(dbapi_connection)


def ensure_math_functions(dbapi_connection: Any) -> None:
    """Give SQLite exp() when it was built without its math functions (the rankings' time decay).

    Python's math.exp is the C library's exp, as PostgreSQL's is, so both databases weigh alike.
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT exp(0)")
    except sqlite3.OperationalError:
        dbapi_connection.create_function("exp", 1, _exp, deterministic=True)
    finally:
        cursor.close()


def _exp(value: float | None) -> float | None:
    if value is None:
        return None
    try:
        return math.exp(value)
    except OverflowError:
        return math.inf


def session_factory(engine: AsyncEngine) -> Sessions:
    """A callable opening a short-lived session; each DataLoader batch uses its own."""
    maker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)

    @asynccontextmanager
    async def sessions() -> AsyncIterator[AsyncSession]:
        async with maker() as session:
            yield session

    return sessions


# The database (or the way to it) is down, restarting or overloaded: worth a retry later, not a bug.
# SQLite's OperationalError covers "unable to open database file", "database is locked" and disk
# errors; SQLAlchemy wraps the driver's errors (in `.orig`) and keeps the cause chain.
_SQLITE_UNREACHABLE = ("unable to open database file", "database is locked", "disk i/o error", "readonly database")
_UNREACHABLE: tuple[type[BaseException], ...] = (
    exc.OperationalError,
    exc.InterfaceError,
    exc.TimeoutError,  # no pooled connection came free in time
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.exceptions.OperatorInterventionError,  # e.g. terminated by an administrator's shutdown
    asyncpg.TooManyConnectionsError,
    OSError,  # refused, reset, unreachable host
    TimeoutError,
)


def database_unreachable(error: BaseException) -> bool:
    """Whether `error` (or what caused it) says the database cannot be reached now."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sqlite3.OperationalError) or (
            isinstance(current, exc.OperationalError) and isinstance(current.orig, sqlite3.Error)
        ):
            # SQLite says "no such table" or a syntax error in the same class: those are bugs, not outages.
            return any(sign in str(current).lower() for sign in _SQLITE_UNREACHABLE)
        if isinstance(current, _UNREACHABLE):
            return True
        original = getattr(current, "orig", None)
        current = original if isinstance(original, BaseException) else (current.__cause__ or current.__context__)
    return False
