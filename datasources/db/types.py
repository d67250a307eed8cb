"""Column types and SQL helpers that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Float, literal_column
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are always aware and in UTC in Python.

    PostgreSQL stores `timestamptz`; SQLite has no time zones, so values are stored as naive UTC
    text and made aware again on the way out. Local (Asia/Shanghai) boundaries are computed in
    Python and passed in as UTC instants, so both databases compare the same values.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class minutes_between(FunctionElement[float]):
    """Minutes from the first timestamp to the second, as a float, in SQL."""

    type = Float()
    inherit_cache = True

    def __init__(self, start: ColumnElement[Any] | Any, end: ColumnElement[Any] | Any) -> None:
        super().__init__(start, end)


@compiles(minutes_between, "sqlite")
def _minutes_sqlite(element: minutes_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"((julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)})) * 1440.0)"


@compiles(minutes_between, "postgresql")
def _minutes_postgresql(element: minutes_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"(EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)})) / 60.0)"


class days_between(FunctionElement[float]):
    """Days (fractional) from the first timestamp to the second, as a float, in SQL."""

    type = Float()
    inherit_cache = True

    def __init__(self, start: ColumnElement[Any] | Any, end: ColumnElement[Any] | Any) -> None:
        super().__init__(start, end)


@compiles(days_between, "sqlite")
def _days_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"(julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)}))"


@compiles(days_between, "postgresql")
def _days_postgresql(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"(EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)})) / 86400.0)"


class round_float(FunctionElement[float]):
    """A float rounded to `digits` decimals, still a float (PostgreSQL rounds only NUMERIC)."""

    type = Float()
    inherit_cache = True

    def __init__(self, value: ColumnElement[Any] | Any, digits: int) -> None:
        # A literal, not a bound parameter: part of the statement text and of its cache key.
        super().__init__(value, literal_column(str(int(digits))))


@compiles(round_float, "sqlite")
def _round_sqlite(element: round_float, compiler: Any, **kw: Any) -> str:
    value, digits = list(element.clauses)
    return f"ROUND({compiler.process(value, **kw)}, {compiler.process(digits, **kw)})"


@compiles(round_float, "postgresql")
def _round_postgresql(element: round_float, compiler: Any, **kw: Any) -> str:
    value, digits = list(element.clauses)
    return (
        f"CAST(ROUND(CAST({compiler.process(value, **kw)} AS NUMERIC), {compiler.process(digits, **kw)}) "
        "AS DOUBLE PRECISION)"
    )
