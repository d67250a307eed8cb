"""Generate the demo data set and bulk-load it.

Deterministic: the same seed, scale and anchor always give the same rows. Never destructive by
accident: demo data goes into an empty database only; a database holding the same data set is left
alone; another demo data set (a different scale) is replaced only when asked to with `force`; and
rows that are not demo data are never touched, not even with `force`.
Consults go in through the driver's fastest path (COPY on PostgreSQL, executemany on SQLite),
because a million rows through ORM objects would take minutes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Table, delete, exists, insert, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from datasources.db import tables as t
from datasources.db.demo import catalogue as cat
from domain.content import search_text
from domain.enums import (
    ArticleCategory,
    ArticleStatus,
    ConsultService,
    ConsultStatus,
    LayoutVariant,
    LinkKind,
    StaffRole,
)

DATA_SET_VERSION = 1
BASE_CONSULTS = 100_000
SEED = 20261127
META_KEY = "demo_data"

# Tables the demo owns, children first, so they can be emptied in this order. The ranking snapshots
# are computed from the demo consults, so they go with them.
DEMO_TABLES: list[type[t.Base]] = [
    t.RankingEntry,
    t.RankingSnapshot,
    t.Appreciation,
    t.Consult,
    t.ServiceOffering,
    t.TeamMember,
    t.Team,
    t.FeaturedDepartment,
    t.ArticleDailyViews,
    t.ArticleTag,
    t.Article,
    t.Staff,
    t.Department,
    t.HomepageEntry,
    t.ConsultServiceEntry,
    t.ThemeToken,
    t.LayoutModule,
    t.LayoutSetting,
]


# Tables of real use that point at demo rows: while they hold anything, the demo data stays.
LIVE_TABLES: list[type[t.Base]] = [t.ConsultOrder, t.RapidDuty]


class SeedOutcome(StrEnum):
    SEEDED = "seeded"  # the database was empty
    REPLACED = "replaced"  # another demo data set was replaced (force)
    ALREADY_PRESENT = "already present"  # the same data set is there; nothing to do
    OTHER_DEMO_DATA = "other demo data"  # another demo data set is there; left alone without force
    NOT_DEMO_DATA = "not demo data"  # rows that are not (or not known to be) demo data; never touched


@dataclass(frozen=True)
class SeedReport:
    """What a seeding run did; `present` describes the demo data set found (None when there was none)."""

    outcome: SeedOutcome
    departments: int = 0
    staff: int = 0
    teams: int = 0
    articles: int = 0
    consults: int = 0
    seconds: float = 0.0
    present: dict[str, Any] | None = None

    @property
    def skipped(self) -> bool:
        """Nothing was written."""
        return self.outcome not in (SeedOutcome.SEEDED, SeedOutcome.REPLACED)


@dataclass
class _StaffPlan:
    id: int
    role: StaffRole
    department_id: int
    services: list[ConsultService]
    popularity: float  # relative share of consults
    response_minutes: float  # typical minutes from payment to first response
    quality: float  # probability that a review is 4-5 stars


def consult_count(scale: float) -> int:
    """How many consults the demo data set of `scale` holds."""
    return max(1, round(BASE_CONSULTS * scale))


def _sql_time(value: datetime | None) -> str | None:
    # SQLite stores naive UTC text in SQLAlchemy's own format (see UTCDateTime).
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


async def seed_demo_data(
    engine: AsyncEngine, *, scale: float = 1.0, anchor: datetime | None = None, force: bool = False
) -> SeedReport:
    """Fill an empty database with the demo data set of the given scale, ending at `anchor` (now).

    A database that already holds demo data is left as it is unless `force` is given, which
    rebuilds it (at any scale); one that holds anything else is never changed. One transaction.
    """
    started = datetime.now(UTC)
    anchor = (anchor or started).astimezone(UTC)
    wanted = {"version": DATA_SET_VERSION, "scale": scale, "seed": SEED}
    async with engine.begin() as conn:
        meta = await conn.scalar(select(t.AppMeta.value).where(t.AppMeta.key == META_KEY))
        has_rows = bool(await conn.scalar(select(or_(*(exists().select_from(model) for model in DEMO_TABLES)))))
        if has_rows:
            # Orders and duty rows refer to demo staff and consults but are real data: never replaced.
            live = await conn.scalar(select(or_(*(exists().select_from(model) for model in LIVE_TABLES))))
            if meta is None or (force and live):
                return SeedReport(SeedOutcome.NOT_DEMO_DATA, present=meta)
            if not force:
                same = {k: meta.get(k) for k in wanted} == wanted
                return SeedReport(SeedOutcome.ALREADY_PRESENT if same else SeedOutcome.OTHER_DEMO_DATA, present=meta)
        for model in DEMO_TABLES:
            await conn.execute(delete(model))
        await conn.execute(delete(t.AppMeta).where(t.AppMeta.key == META_KEY))
        counts = await _write(conn, random.Random(SEED), scale, anchor)
        await conn.execute(insert(t.AppMeta), [{"key": META_KEY, "value": {**wanted, "anchor": anchor.isoformat()}}])
        await _reset_sequences(conn)
    seconds = (datetime.now(UTC) - started).total_seconds()
    departments, staff, teams, articles, consults = counts
    outcome = SeedOutcome.REPLACED if has_rows else SeedOutcome.SEEDED
    return SeedReport(
        outcome, departments, staff, teams, articles, consults, seconds, present=meta if has_rows else None
    )


async def _write(conn: AsyncConnection, rnd: random.Random, scale: float, anchor: datetime) -> tuple[int, ...]:
    departments = _departments()
    await conn.execute(insert(t.Department), departments)
    dept_ids = {d["code"]: d["id"] for d in departments}

    staff_rows, plans = _staff(rnd, departments)
    await conn.execute(insert(t.Staff), staff_rows)
    teams, members = _teams(rnd, plans, departments)
    await conn.execute(insert(t.Team), teams)
    await conn.execute(insert(t.TeamMember), members)
    offerings = _offerings(rnd, plans, teams)
    await conn.execute(insert(t.ServiceOffering), offerings)

    await conn.execute(insert(t.ConsultServiceEntry), _service_entries())
    await conn.execute(insert(t.HomepageEntry), _entries())
    await conn.execute(insert(t.ThemeToken), _theme_tokens())
    await conn.execute(insert(t.LayoutModule), _layout_modules())
    await conn.execute(
        insert(t.LayoutSetting),
        [
            {"variant": LayoutVariant.STANDARD, "compact": True, "font_scale": 1.0},
            {"variant": LayoutVariant.ELDER, "compact": False, "font_scale": 1.3},
        ],
    )
    await conn.execute(insert(t.FeaturedDepartment), _featured(dept_ids))
    articles = _articles(rnd, anchor, departments)
    await conn.execute(insert(t.Article), articles)
    await conn.execute(insert(t.ArticleTag), _article_tags(articles))

    total = consult_count(scale)
    team_plans = [(team["id"], team["department_id"]) for team in teams]
    rows = _consults(rnd, plans, team_plans, total, anchor)
    await _bulk_insert(conn, t.Consult.__table__, rows)  # type: ignore[arg-type]
    return len(departments), len(staff_rows), len(teams), len(articles), total


def _departments() -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "code": code,
            "name": name,
            "description": f"{name}：{'、'.join(specialties)}等疾病的诊治。",
            "location": location,
            "registration_kind": LinkKind.MINI_PROGRAM_PAGE,
            "registration_target": f"/pages/registration/department?deptCode={code}",
        }
        for i, (code, name, location, specialties) in enumerate(cat.DEPARTMENTS, start=1)
    ]


def _pick_title(rnd: random.Random, role: StaffRole) -> str:
    titles, weights = zip(*cat.TITLES[role], strict=True)
    return rnd.choices(titles, weights=weights)[0]


def _staff(rnd: random.Random, departments: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[_StaffPlan]]:
    rows: list[dict[str, Any]] = []
    plans: list[_StaffPlan] = []
    specialties = {code: spec for code, _, _, spec in cat.DEPARTMENTS}
    next_id = 1
    for dept in departments:
        code = dept["code"]
        if code == cat.PHARMACY_CODE:
            roles = [StaffRole.PHARMACIST] * 14
        else:
            roles = [StaffRole.DOCTOR] * rnd.randint(7, 9) + [StaffRole.NURSE] * rnd.randint(1, 3)
        for role in roles:
            name = rnd.choice(cat.SURNAMES) + "".join(rnd.choices(cat.GIVEN, k=rnd.choice((1, 2))))
            if role is StaffRole.NURSE:
                spec = rnd.sample(cat.NURSE_SPECIALTIES, 2)
            else:
                spec = rnd.sample(specialties[code], min(2, len(specialties[code])))
            staff_code = f"S{next_id:05d}"
            rows.append(
                {
                    "id": next_id,
                    "code": staff_code,
                    "name": name,
                    "role": role,
                    "title": _pick_title(rnd, role),
                    "specialties": spec,
                    "photo_url": f"https://static.hospital.example/staff/{staff_code}.jpg",
                    "introduction": f"擅长{'、'.join(spec)}。",
                    "department_id": dept["id"],
                    # A few staff have left; their history still counts, they take no new consults.
                    "active": rnd.random() > 0.02,
                    "registration_kind": LinkKind.MINI_PROGRAM_PAGE,
                    "registration_target": f"/pages/registration/doctor?deptCode={code}&staffCode={staff_code}",
                }
            )
            services = [ConsultService.FOLLOW_UP]
            if role is StaffRole.DOCTOR and rnd.random() < 0.4:
                services.append(ConsultService.VIDEO)
            if role is StaffRole.DOCTOR and code == cat.GP_CODE:
                services.append(ConsultService.RAPID)
            plans.append(
                _StaffPlan(
                    id=next_id,
                    role=role,
                    department_id=dept["id"],
                    services=services,
                    # Heavy-tailed demand, so that rankings have clear leaders.
                    popularity=rnd.paretovariate(1.6) * (1.0 if role is StaffRole.DOCTOR else 0.35),
                    response_minutes=rnd.uniform(3, 90),
                    quality=rnd.uniform(0.72, 0.99),
                )
            )
            next_id += 1
    return rows, plans


def _teams(
    rnd: random.Random, plans: list[_StaffPlan], departments: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    teams: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    clinical = [d for d in departments if d["code"] not in (cat.PHARMACY_CODE, "EMER")]
    for team_id, dept in enumerate(rnd.sample(clinical, 20), start=1):
        doctors = [p for p in plans if p.department_id == dept["id"] and p.role is StaffRole.DOCTOR]
        chosen = rnd.sample(doctors, min(len(doctors), rnd.randint(3, 5)))
        focus = next(spec for code, _, _, spec in cat.DEPARTMENTS if code == dept["code"])[0]
        teams.append(
            {
                "id": team_id,
                "name": f"{dept['name']}{focus}团队",
                "description": f"由{dept['name']}专家组成，专注{focus}的联合诊疗。",
                "department_id": dept["id"],
                "leader_id": chosen[0].id,
                "active": True,
            }
        )
        members += [{"team_id": team_id, "staff_id": p.id, "position": i} for i, p in enumerate(chosen)]
    return teams, members


def _offerings(rnd: random.Random, plans: list[_StaffPlan], teams: list[dict[str, Any]]) -> list[dict[str, Any]]:
    base = {ConsultService.FOLLOW_UP: 2000, ConsultService.VIDEO: 5000, ConsultService.RAPID: 1000}
    rows = [
        {"service": service, "staff_id": p.id, "team_id": None, "price_cents": base[service] + 500 * rnd.randint(0, 6)}
        for p in plans
        for service in p.services
    ]
    for team in teams:
        rows.append({"service": ConsultService.TEAM, "staff_id": None, "team_id": team["id"], "price_cents": 30000})
        if team["id"] % 2 == 0:
            rows.append({"service": ConsultService.MDT, "staff_id": None, "team_id": team["id"], "price_cents": 80000})
    return [{"id": i, "active": True, **row} for i, row in enumerate(rows, start=1)]


def _service_entries() -> list[dict[str, Any]]:
    return [
        {"service": s, "title": title, "subtitle": sub, "entry_text": body, "requirements": req, "position": i}
        for i, (s, title, sub, body, req) in enumerate(cat.SERVICE_ENTRIES)
    ]


def _entries() -> list[dict[str, Any]]:
    return [
        {
            "variant": variant,
            "kind": kind,
            "title": title,
            "icon_url": f"https://static.hospital.example/icons/{kind.lower()}.png",
            "target": target,
            "position": i,
        }
        for variant in LayoutVariant
        for i, (kind, title, target) in enumerate(cat.ENTRIES)
    ]


def _theme_tokens() -> list[dict[str, Any]]:
    rows = []
    for name, standard, elder, description in cat.THEME_TOKENS:
        rows.append({"variant": LayoutVariant.STANDARD, "name": name, "value": standard, "description": description})
        rows.append({"variant": LayoutVariant.ELDER, "name": name, "value": elder, "description": description})
    return rows


def _layout_modules() -> list[dict[str, Any]]:
    return [
        {"variant": LayoutVariant(variant), "module": module, "position": i, "visible": True}
        for variant, modules in cat.MODULE_ORDER.items()
        for i, module in enumerate(modules)
    ]


def _featured(dept_ids: dict[str, int]) -> list[dict[str, Any]]:
    featured = [
        ("CARD", "胸痛中心，24小时急诊介入"),
        ("NEUR", "卒中中心，溶栓取栓绿色通道"),
        ("ORTH", "关节与运动医学，微创精准"),
        ("ENDO", "糖尿病一体化管理"),
        ("ONCO", "肿瘤多学科全程管理"),
        ("GERI", "老年综合评估与共病管理"),
    ]
    # 长辈版: the first four only, as larger cards.
    shown = {LayoutVariant.STANDARD: featured, LayoutVariant.ELDER: featured[:4]}
    return [
        {
            "variant": variant,
            "department_id": dept_ids[code],
            "position": i,
            "image_url": f"https://static.hospital.example/featured/{code.lower()}.jpg",
            "blurb": blurb,
            "link_target": None,
            "link_kind": None,
        }
        for variant in LayoutVariant
        for i, (code, blurb) in enumerate(shown[variant])
    ]


def _articles(rnd: random.Random, anchor: datetime, departments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for category, titles in cat.ARTICLE_TOPICS.items():
        for title in titles:
            published = anchor - timedelta(days=rnd.uniform(0, 200), minutes=rnd.randint(0, 1440))
            # A few drafts and archived items, so the lists show only what is published.
            status = rnd.choices(
                [ArticleStatus.PUBLISHED, ArticleStatus.DRAFT, ArticleStatus.ARCHIVED], weights=[16, 2, 1]
            )[0]
            dept = rnd.choice(departments) if category is ArticleCategory.SCIENCE else None
            rows.append(
                {
                    "id": len(rows) + 1,
                    "category": category,
                    "title": title,
                    "summary": f"{title}。本文由本院医务人员撰写，供参考。",
                    "cover_url": f"https://static.hospital.example/articles/{len(rows) + 1}.jpg",
                    "body": f"<p>{title}。</p><p>如有不适，请及时就医或通过互联网医院咨询。</p>",
                    "status": status,
                    "department_id": dept["id"] if dept else None,
                    "author": rnd.choice(cat.SURNAMES) + "医生" if dept else "宣传中心",
                    "published_at": None if status is ArticleStatus.DRAFT else published,
                    "created_at": published - timedelta(days=1),
                    "pinned": title in cat.PINNED_ARTICLES,
                }
            )
    for row in rows:
        row["search_text"] = search_text(title=row["title"], summary=row["summary"], body=row["body"])
    return rows


def _article_tags(articles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Tags from the catalogue's keywords found in the title: related articles share them.
    return [
        {"article_id": article["id"], "tag": tag}
        for article in articles
        for tag in cat.ARTICLE_TAGS
        if tag in article["title"]
    ]


def _consults(
    rnd: random.Random,
    plans: list[_StaffPlan],
    teams: list[tuple[int, int]],
    total: int,
    anchor: datetime,
) -> Iterator[tuple[Any, ...]]:
    """Yield consult rows in `CONSULT_COLUMNS` order, spread over the 365 days before `anchor`."""
    weights = [p.popularity for p in plans]
    cumulative = list(_accumulate(weights))
    team_share = 0.04
    span_minutes = 365 * 24 * 60
    for _ in range(total):
        # Volume grows over the year: later days are more likely (sqrt of a uniform).
        age_minutes = span_minutes * (1 - math.sqrt(rnd.random()))
        created = anchor - timedelta(minutes=age_minutes)
        staff_id: int | None
        team_id: int | None
        if rnd.random() < team_share:
            team_id, department_id = rnd.choice(teams)
            staff_id = None
            service = ConsultService.TEAM if rnd.random() < 0.7 else ConsultService.MDT
            response_minutes, quality = 120.0, 0.9
        else:
            plan = rnd.choices(plans, cum_weights=cumulative)[0]
            staff_id, team_id, department_id = plan.id, None, plan.department_id
            service = rnd.choice(plan.services)
            response_minutes, quality = plan.response_minutes, plan.quality
        paid = created + timedelta(minutes=rnd.uniform(0.5, 10)) if rnd.random() < 0.96 else None
        first_response = completed = None
        rating: int | None = None
        review: str | None = None
        reviewed = None
        if paid is None:
            status = ConsultStatus.CANCELLED
        else:
            first_response = paid + timedelta(minutes=rnd.expovariate(1 / response_minutes) + 0.5)
            roll = rnd.random()
            if roll < 0.02:
                status, first_response = ConsultStatus.REFUNDED, None
            elif first_response > anchor:
                status, first_response = ConsultStatus.PAID, None
            else:
                completed = first_response + timedelta(minutes=rnd.uniform(10, 180))
                if completed > anchor:
                    status, completed = ConsultStatus.IN_PROGRESS, None
                else:
                    status = ConsultStatus.COMPLETED
                    if rnd.random() < 0.6:
                        good = rnd.random() < quality
                        rating = rnd.choice((4, 5, 5)) if good else rnd.choice((1, 2, 3))
                        review = rnd.choice(cat.REVIEWS_GOOD if good else cat.REVIEWS_BAD)
                        reviewed = min(anchor, completed + timedelta(hours=rnd.uniform(0.1, 48)))
        price = {ConsultService.TEAM: 30000, ConsultService.MDT: 80000}.get(service, 2000 + 500 * rnd.randint(0, 6))
        yield (
            service.value,
            rnd.randint(1, 20_000),
            staff_id,
            team_id,
            department_id,
            status.value,
            price,
            created,
            paid,
            first_response,
            completed,
            rating,
            review,
            reviewed,
        )


CONSULT_COLUMNS = (
    "service",
    "patient_id",
    "staff_id",
    "team_id",
    "department_id",
    "status",
    "price_cents",
    "created_at",
    "paid_at",
    "first_response_at",
    "completed_at",
    "rating",
    "review",
    "reviewed_at",
)
_TIME_COLUMNS = {i for i, c in enumerate(CONSULT_COLUMNS) if c.endswith("_at")}


def _accumulate(values: Sequence[float]) -> Iterator[float]:
    running = 0.0
    for value in values:
        running += value
        yield running


async def _bulk_insert(
    conn: AsyncConnection, table: Table, rows: Iterator[tuple[Any, ...]], batch: int = 50_000
) -> None:
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if conn.dialect.name == "postgresql":
        for chunk in _chunks(rows, batch):
            await driver.copy_records_to_table(table.name, records=chunk, columns=list(CONSULT_COLUMNS))
        return
    placeholders = ", ".join("?" for _ in CONSULT_COLUMNS)
    sql = f"INSERT INTO {table.name} ({', '.join(CONSULT_COLUMNS)}) VALUES ({placeholders})"
    for chunk in _chunks(rows, batch):
        converted = [tuple(_sql_time(v) if i in _TIME_COLUMNS else v for i, v in enumerate(row)) for row in chunk]
        await driver.executemany(sql, converted)


def _chunks(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def _reset_sequences(conn: AsyncConnection) -> None:
    """Explicit ids were inserted; PostgreSQL's sequences must continue after them."""
    if conn.dialect.name != "postgresql":
        return
    for model in DEMO_TABLES:
        table: Table = model.__table__  # type: ignore[assignment]
        if "id" in table.c and table.c.id.primary_key:
            await conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
                )
            )


__all__ = ["CONSULT_COLUMNS", "SeedOutcome", "SeedReport", "consult_count", "seed_demo_data"]
