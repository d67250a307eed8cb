"""Column types and SQL helpers that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, Float, literal_column
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


_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-/]{1,64}")


class local_date(FunctionElement[date]):
    """The calendar date of a timestamp in a time zone, or the Monday of its week (`week=True`), in SQL.

    PostgreSQL converts with the zone's rules. SQLite knows no zones: it shifts by `offset_minutes`, the
    zone's offset, which is exact for zones without daylight saving time such as Asia/Shanghai.
    """

    type = Date()
    inherit_cache = False  # the zone and offset are part of the SQL text

    def __init__(self, value: Any, *, zone: str, offset_minutes: int, week: bool = False) -> None:
        if _ZONE_NAME.fullmatch(zone) is None:
            raise ValueError(f"not a time-zone name: {zone!r}")
        self.zone, self.offset_minutes, self.week = zone, int(offset_minutes), week
        super().__init__(value)


@compiles(local_date, "sqlite")
def _local_date_sqlite(element: local_date, compiler: Any, **kw: Any) -> str:
    (value,) = list(element.clauses)
    week = ", 'weekday 0', '-6 days'" if element.week else ""
    return f"date({compiler.process(value, **kw)}, '{element.offset_minutes:+d} minutes'{week})"


@compiles(local_date, "postgresql")
def _local_date_postgresql(element: local_date, compiler: Any, **kw: Any) -> str:
    (value,) = list(element.clauses)
    local = f"timezone('{element.zone}', {compiler.process(value, **kw)})"
    return f"CAST(date_trunc('week', {local}) AS DATE)" if element.week else f"CAST({local} AS DATE)"
