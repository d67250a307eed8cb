"""The ranking boards computed again in plain Python, straight from DESIGN.md's definitions.

Written apart from the SQL and from domain/rankings.py (it does its own calendar arithmetic), so
that the tests compare two independent readings of the definitions. Slow and obvious on purpose.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Params:
    timezone: str = "Asia/Shanghai"
    staff_roles: tuple[str, ...] = ("DOCTOR",)
    min_reviews_for_rate: int = 5
    popularity_days: int = 7
    decay_days: float = 3.0
    growth_min_consults: int = 20
    growth_floor: int = 10
    team_days: int = 90
    prior_mean: float = 4.5
    prior_weight: float = 20.0
    team_min_reviews: int = 10


@dataclass(frozen=True)
class ConsultRow:
    staff_id: int | None
    team_id: int | None
    department_id: int
    status: str
    paid_at: datetime | None
    completed_at: datetime | None
    rating: int | None
    reviewed_at: datetime | None


@dataclass(frozen=True)
class Subjects:
    staff: dict[int, tuple[str, bool]]  # id -> (role, active)
    teams: dict[int, bool]  # id -> active


@dataclass(frozen=True)
class Place:
    subject_id: int
    score: float
    inputs: dict[str, Any] = field(default_factory=dict)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)


def last_month_bounds(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime, str]:
    today = now.astimezone(zone).date()
    this_first = today.replace(day=1)
    last_first = (this_first - timedelta(days=1)).replace(day=1)
    return _midnight(last_first, zone), _midnight(this_first, zone), f"{last_first:%Y-%m}"


def growth_bounds(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime, datetime, datetime]:
    """This month so far, and the previous month up to the same day and time (or its end)."""
    local = now.astimezone(zone)
    this_first = local.date().replace(day=1)
    last_first = (this_first - timedelta(days=1)).replace(day=1)
    try:
        same_point = datetime.combine(last_first.replace(day=local.day), local.timetz().replace(tzinfo=zone))
        before_end = min(same_point.astimezone(UTC), _midnight(this_first, zone))
    except ValueError:  # no such day last month (e.g. 31 March): the whole previous month
        before_end = _midnight(this_first, zone)
    return _midnight(this_first, zone), now, _midnight(last_first, zone), before_end


def _booked(c: ConsultRow, start: datetime, end: datetime) -> bool:
    return c.paid_at is not None and start <= c.paid_at < end and c.status != "REFUNDED"


def _staff_ok(staff_id: int | None, subjects: Subjects, p: Params) -> bool:
    if staff_id is None or staff_id not in subjects.staff:
        return False
    role, active = subjects.staff[staff_id]
    return active and role in p.staff_roles


def _order(places: list[Place], *keys: Any) -> list[Place]:
    return sorted(places, key=lambda place: tuple(k(place) for k in keys))


def gold(rows: list[ConsultRow], subjects: Subjects, now: datetime, p: Params, *, by: str) -> list[Place]:
    zone = ZoneInfo(p.timezone)
    start, end, _ = last_month_bounds(now, zone)
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for c in rows:
        if c.status != "COMPLETED" or c.completed_at is None or not start <= c.completed_at < end:
            continue
        subject = c.department_id if by == "department" else c.staff_id
        if subject is None or (by == "staff" and not _staff_ok(subject, subjects, p)):
            continue
        counts[subject][0] += 1
        if c.rating is not None and c.reviewed_at is not None and c.reviewed_at < end:
            counts[subject][1] += 1
            counts[subject][2] += c.rating >= 4
    places = [
        Place(s, float(n), {"consults": n, "reviews": r, "positive_reviews": g}) for s, (n, r, g) in counts.items()
    ]

    def rate(place: Place) -> float:
        reviews = place.inputs["reviews"]
        if reviews < p.min_reviews_for_rate:
            return 1.0  # sorts after every real rate (negated below)
        return -(place.inputs["positive_reviews"] / reviews)

    return _order(places, lambda x: -x.inputs["consults"], rate, lambda x: x.subject_id)


def popularity(rows: list[ConsultRow], subjects: Subjects, now: datetime, p: Params, *, by: str) -> list[Place]:
    start = now - timedelta(days=p.popularity_days)
    heat: dict[int, float] = defaultdict(float)
    counts: dict[int, int] = defaultdict(int)
    for c in rows:
        if not _booked(c, start, now):
            continue
        subject = c.department_id if by == "department" else c.staff_id
        if subject is None or (by == "staff" and not _staff_ok(subject, subjects, p)):
            continue
        assert c.paid_at is not None
        age_days = (now - c.paid_at).total_seconds() / 86400
        heat[subject] += math.exp(-age_days / p.decay_days)
        counts[subject] += 1
    places = [Place(s, round(h, 6), {"consults": counts[s], "heat": round(h, 6)}) for s, h in heat.items()]
    return _order(places, lambda x: -x.score, lambda x: -x.inputs["consults"], lambda x: x.subject_id)


def growth(rows: list[ConsultRow], subjects: Subjects, now: datetime, p: Params) -> list[Place]:
    start, end, before_start, before_end = growth_bounds(now, ZoneInfo(p.timezone))
    this: dict[int, int] = defaultdict(int)
    before: dict[int, int] = defaultdict(int)
    for c in rows:
        if not _staff_ok(c.staff_id, subjects, p):
            continue
        assert c.staff_id is not None
        if _booked(c, start, end):
            this[c.staff_id] += 1
        if _booked(c, before_start, before_end):
            before[c.staff_id] += 1
    places = []
    for s, n in this.items():
        if n < p.growth_min_consults:
            continue
        b = before.get(s, 0)
        places.append(Place(s, round((n - b) / max(b, p.growth_floor), 6), {"consults": n, "consults_before": b}))
    return _order(places, lambda x: -x.score, lambda x: -x.inputs["consults"], lambda x: x.subject_id)


def best_team(rows: list[ConsultRow], subjects: Subjects, now: datetime, p: Params) -> list[Place]:
    start = now - timedelta(days=p.team_days)
    acc: dict[int, dict[str, int]] = defaultdict(lambda: {"reviews": 0, "rating_sum": 0, "completed": 0, "settled": 0})
    for c in rows:
        if c.team_id is None or not subjects.teams.get(c.team_id, False):
            continue
        if c.paid_at is None or not start <= c.paid_at < now:
            continue
        a = acc[c.team_id]
        if c.rating is not None and c.reviewed_at is not None and c.reviewed_at < now:
            a["reviews"] += 1
            a["rating_sum"] += c.rating
        a["completed"] += c.status == "COMPLETED"
        a["settled"] += c.status in ("COMPLETED", "REFUNDED")
    places = []
    for team, a in acc.items():
        if a["reviews"] < p.team_min_reviews:
            continue
        bayes = (p.prior_mean * p.prior_weight + a["rating_sum"]) / (p.prior_weight + a["reviews"])
        completion = a["completed"] / a["settled"] if a["settled"] else 0.0
        places.append(Place(team, round(bayes * completion, 6), dict(a)))
    return _order(places, lambda x: -x.score, lambda x: -x.inputs["reviews"], lambda x: x.subject_id)


def all_boards(rows: list[ConsultRow], subjects: Subjects, now: datetime, p: Params) -> dict[str, list[Place]]:
    """Every board in full (not cut to its size), by board name."""
    return {
        "GOLD_DEPARTMENTS": gold(rows, subjects, now, p, by="department"),
        "GOLD_STAFF": gold(rows, subjects, now, p, by="staff"),
        "DOCTOR_POPULARITY": popularity(rows, subjects, now, p, by="staff"),
        "FASTEST_GROWTH": growth(rows, subjects, now, p),
        "BEST_TEAM": best_team(rows, subjects, now, p),
        "DEPARTMENT_POPULARITY": popularity(rows, subjects, now, p, by="department"),
    }
