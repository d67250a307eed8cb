"""Helpers for content tests: signed-in editors, operations staff and patients, table snapshots."""

from __future__ import annotations

from typing import Any

import httpx
from identity_support import gql, make_staff, staff_login
from sqlalchemy import text
from starlette.applications import Starlette

from domain.enums import AdminRole


async def staff_token(app: Starlette, http: httpx.AsyncClient, *roles: AdminRole) -> str:
    return await staff_login(http, await make_staff(app, list(roles)))


async def mutate(http: httpx.AsyncClient, document: str, variables: dict[str, Any], token: str | None) -> Any:
    """The single root field's value of a mutation that must not raise GraphQL errors."""
    body = await gql(http, document, variables, token)
    assert "errors" not in body, body["errors"]
    (value,) = body["data"].values()
    return value


async def count(app: Starlette, table: str, where: str = "1 = 1", **params: Any) -> int:
    async with app.state.resources.engine.connect() as conn:
        return int(await conn.scalar(text(f"SELECT COUNT(*) FROM {table} WHERE {where}"), params) or 0)


async def snapshot(app: Starlette, table: str, order: str = "1") -> list[tuple[Any, ...]]:
    """Every row of a table, to prove a refused change wrote nothing."""
    async with app.state.resources.engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(text(f"SELECT * FROM {table} ORDER BY {order}"))]


async def audit_actions(app: Starlette, target_type: str, target_id: Any) -> list[str]:
    async with app.state.resources.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT action FROM audit_log WHERE target_type = :t AND target_id = :i ORDER BY id"),
            {"t": target_type, "i": str(target_id)},
        )
        return [action for (action,) in rows]
