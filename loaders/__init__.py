"""Per-request DataLoaders: one batch function per (entity, key), results in key order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from strawberry.dataloader import DataLoader

from datasources.db.engine import Sessions
from datasources.db.queries.home import ServiceEntryRow
from datasources.db.queries.staff import StaffStatsRow
from datasources.db.tables import (
    Article,
    Consult,
    ConsultOpinion,
    ConsultOrderTransition,
    Department,
    FeaturedDepartment,
    HomepageEntry,
    LayoutModule,
    LayoutSetting,
    PatientProfile,
    ProfileConsent,
    ServiceOffering,
    Staff,
    Team,
    ThemeToken,
)
from domain.enums import ArticleCategory, LayoutVariant
from loaders import consults, departments, home, identity, staff
from loaders.home import Everything


@dataclass(frozen=True)
class Loaders:
    """Fresh for every request, so nothing cached here outlives the request that loaded it."""

    department_by_id: DataLoader[int, Department | None]
    staff_by_id: DataLoader[int, Staff | None]
    staff_stats_by_staff_id: DataLoader[int, StaffStatsRow]
    offerings_by_staff_id: DataLoader[int, list[ServiceOffering]]
    theme_by_variant: DataLoader[LayoutVariant, Sequence[ThemeToken]]
    layout_by_variant: DataLoader[LayoutVariant, tuple[LayoutSetting | None, list[LayoutModule]]]
    featured_departments: DataLoader[Everything, Sequence[FeaturedDepartment]]
    homepage_entries: DataLoader[Everything, Sequence[HomepageEntry]]
    consult_zone: DataLoader[Everything, list[ServiceEntryRow]]
    latest_articles_by_count: DataLoader[int, dict[ArticleCategory, list[Article]]]
    profiles_by_account_id: DataLoader[int, list[PatientProfile]]
    consents_by_profile_id: DataLoader[int, list[ProfileConsent]]
    experts_by_order_id: DataLoader[int, list[int]]
    opinion_by_order_id: DataLoader[int, ConsultOpinion | None]
    transitions_by_order_id: DataLoader[int, list[ConsultOrderTransition]]
    team_by_id: DataLoader[int, Team | None]
    consult_by_id: DataLoader[int, Consult | None]


def make_loaders(sessions: Sessions, *, now: datetime, stats_window_days: int) -> Loaders:
    return Loaders(
        department_by_id=DataLoader(lambda ids: departments.department_by_id(sessions, ids)),
        staff_by_id=DataLoader(lambda ids: staff.staff_by_id(sessions, ids)),
        staff_stats_by_staff_id=DataLoader(
            lambda ids: staff.staff_stats_by_staff_id(sessions, ids, now=now, window_days=stats_window_days)
        ),
        offerings_by_staff_id=DataLoader(lambda ids: staff.offerings_by_staff_id(sessions, ids)),
        theme_by_variant=DataLoader(lambda keys: home.theme_by_variant(sessions, keys)),
        layout_by_variant=DataLoader(lambda keys: home.layout_by_variant(sessions, keys)),
        featured_departments=DataLoader(lambda keys: home.featured_departments(sessions, keys)),
        homepage_entries=DataLoader(lambda keys: home.homepage_entries(sessions, keys)),
        consult_zone=DataLoader(lambda keys: home.consult_zone(sessions, keys)),
        latest_articles_by_count=DataLoader(lambda keys: home.latest_articles(sessions, keys, now=now)),
        # Not cached: a mutation that changes profiles reads them again in the same request.
        profiles_by_account_id=DataLoader(lambda ids: identity.profiles_by_account_id(sessions, ids), cache=False),
        consents_by_profile_id=DataLoader(lambda ids: identity.consents_by_profile_id(sessions, ids), cache=False),
        # Not cached either: a mutation reads its order's experts, opinion and log after changing them.
        experts_by_order_id=DataLoader(lambda ids: consults.experts_by_order_id(sessions, ids), cache=False),
        opinion_by_order_id=DataLoader(lambda ids: consults.opinion_by_order_id(sessions, ids), cache=False),
        transitions_by_order_id=DataLoader(lambda ids: consults.transitions_by_order_id(sessions, ids), cache=False),
        team_by_id=DataLoader(lambda ids: consults.team_by_id(sessions, ids)),
        consult_by_id=DataLoader(lambda ids: consults.consult_by_id(sessions, ids), cache=False),
    )
