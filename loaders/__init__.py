"""Per-request DataLoaders: one batch function per (entity, key), results in key order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from datasources.content.appreciations import AppreciationCounts
from datasources.db.engine import Sessions
from datasources.db.queries.home import ServiceEntryRow
from datasources.db.queries.rankings import RankedSubjects, RankingKey
from datasources.db.queries.staff import StaffStatsRow
from datasources.db.rankings import StoredBoard
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
    VisitGuideStep,
)
from domain.enums import ArticleCategory, LayoutVariant
from loaders import companion, consults, content, departments, home, identity, rankings, staff
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
    featured_by_variant: DataLoader[LayoutVariant, Sequence[FeaturedDepartment]]
    entries_by_variant: DataLoader[LayoutVariant, Sequence[HomepageEntry]]
    consult_zone: DataLoader[Everything, list[ServiceEntryRow]]
    latest_articles_by_count: DataLoader[int, dict[ArticleCategory, list[Article]]]
    profiles_by_account_id: DataLoader[int, list[PatientProfile]]
    consents_by_profile_id: DataLoader[int, list[ProfileConsent]]
    ranking_by_key: DataLoader[RankingKey, StoredBoard | None]
    team_by_id: DataLoader[int, Team | None]
    visit_guide: DataLoader[Everything, Sequence[VisitGuideStep]]
    tags_by_article_id: DataLoader[int, list[str]]
    related_articles: DataLoader[tuple[int, int], list[Article]]
    appreciation_counts_by_staff_id: DataLoader[int, AppreciationCounts]
    experts_by_order_id: DataLoader[int, list[int]]
    opinion_by_order_id: DataLoader[int, ConsultOpinion | None]
    transitions_by_order_id: DataLoader[int, list[ConsultOrderTransition]]
    consult_by_id: DataLoader[int, Consult | None]


class SharedSession:
    """One session for the loader batches of a read-only request on SQLite that come together, used
    by one batch at a time and closed as soon as no batch is waiting for it.

    SQLite answers one statement at a time in any case: batches side by side, each with its own
    session, only add checkouts, transactions and thread switches (the homepage's eleven statements
    took half as long again that way). The session is closed whenever the queue empties, so that no
    connection stays checked out while the request waits for something else (the HIS). Only for
    requests that change nothing. PostgreSQL, which does work in parallel, keeps a session per batch."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions
        self._lock = asyncio.Lock()
        self._wanted = 0  # batches holding or waiting for the session
        self._opened: AbstractAsyncContextManager[AsyncSession] | None = None
        self._session: AsyncSession | None = None

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        self._wanted += 1
        try:
            async with self._lock:
                if self._session is None:
                    self._opened = self._sessions()
                    self._session = await self._opened.__aenter__()
                try:
                    yield self._session
                except BaseException:
                    # A failed statement leaves the transaction unusable for the batches after it.
                    await self._session.rollback()
                    raise
                finally:
                    if self._wanted == 1:  # nobody else waiting: hand the connection back
                        await self._close()
        finally:
            self._wanted -= 1

    async def release(self) -> None:
        """Close the session if a batch left it open (it was cancelled, say): the request is answered."""
        async with self._lock:
            await self._close()

    async def _close(self) -> None:
        if self._opened is not None:
            opened, self._opened, self._session = self._opened, None, None
            await opened.__aexit__(None, None, None)


def make_loaders(sessions: Sessions, *, now: datetime, stats_window_days: int) -> Loaders:
    department_by_id: DataLoader[int, Department | None] = DataLoader(
        lambda ids: departments.department_by_id(sessions, ids)
    )
    staff_by_id: DataLoader[int, Staff | None] = DataLoader(lambda ids: staff.staff_by_id(sessions, ids))
    team_by_id: DataLoader[int, Team | None] = DataLoader(lambda ids: rankings.team_by_id(sessions, ids))

    def prime_ranked(subjects: RankedSubjects) -> None:
        department_by_id.prime_many(subjects.departments)
        staff_by_id.prime_many(subjects.staff)
        team_by_id.prime_many(subjects.teams)

    return Loaders(
        department_by_id=department_by_id,
        staff_by_id=staff_by_id,
        staff_stats_by_staff_id=DataLoader(
            lambda ids: staff.staff_stats_by_staff_id(sessions, ids, now=now, window_days=stats_window_days)
        ),
        offerings_by_staff_id=DataLoader(lambda ids: staff.offerings_by_staff_id(sessions, ids)),
        theme_by_variant=DataLoader(lambda keys: home.theme_by_variant(sessions, keys)),
        layout_by_variant=DataLoader(lambda keys: home.layout_by_variant(sessions, keys)),
        featured_by_variant=DataLoader(lambda keys: home.featured_by_variant(sessions, keys)),
        entries_by_variant=DataLoader(lambda keys: home.entries_by_variant(sessions, keys)),
        consult_zone=DataLoader(lambda keys: home.consult_zone(sessions, keys)),
        latest_articles_by_count=DataLoader(lambda keys: home.latest_articles(sessions, keys, now=now)),
        # Not cached: a mutation that changes profiles reads them again in the same request.
        profiles_by_account_id=DataLoader(lambda ids: identity.profiles_by_account_id(sessions, ids), cache=False),
        consents_by_profile_id=DataLoader(lambda ids: identity.consents_by_profile_id(sessions, ids), cache=False),
        ranking_by_key=DataLoader(lambda keys: rankings.ranking_by_key(sessions, keys, prime=prime_ranked)),
        team_by_id=team_by_id,
        visit_guide=DataLoader(lambda keys: companion.visit_guide(sessions, keys)),
        # Not cached: an editor's mutation returns the article with the tags it has just written.
        tags_by_article_id=DataLoader(lambda ids: content.tags_by_article_id(sessions, ids), cache=False),
        related_articles=DataLoader(lambda keys: content.related_articles(sessions, keys, now=now)),
        appreciation_counts_by_staff_id=DataLoader(lambda ids: content.appreciation_counts_by_staff_id(sessions, ids)),
        # Not cached either: a mutation reads its order's experts, opinion and log after changing them.
        experts_by_order_id=DataLoader(lambda ids: consults.experts_by_order_id(sessions, ids), cache=False),
        opinion_by_order_id=DataLoader(lambda ids: consults.opinion_by_order_id(sessions, ids), cache=False),
        transitions_by_order_id=DataLoader(lambda ids: consults.transitions_by_order_id(sessions, ids), cache=False),
        consult_by_id=DataLoader(lambda ids: consults.consult_by_id(sessions, ids), cache=False),
    )
