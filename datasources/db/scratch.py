"""Throwaway PostgreSQL databases for test runs and benchmarks, made through a server's admin URL."""

from __future__ import annotations

import asyncpg
from sqlalchemy.engine import make_url


async def _admin(admin_url: str) -> asyncpg.Connection:
    url = make_url(admin_url)
    return await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database or "postgres",
    )


async def create_database(admin_url: str, name: str) -> str:
    """Create database `name` on the server of `admin_url`; returns the URL that reaches it."""
    conn = await _admin(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(admin_url: str, name: str) -> None:
    conn = await _admin(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
