"""Identity loaders: an account's profiles, and each profile's consents."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from datasources.db.engine import Sessions
from datasources.db.tables import PatientProfile, ProfileConsent
from datasources.identity import profiles as queries


async def profiles_by_account_id(sessions: Sessions, ids: Sequence[int]) -> list[list[PatientProfile]]:
    async with sessions() as db:
        rows = await db.scalars(
            select(PatientProfile).where(PatientProfile.account_id.in_(ids)).order_by(PatientProfile.id)
        )
        grouped: dict[int, list[PatientProfile]] = {i: [] for i in ids}
        for row in rows:
            grouped[row.account_id].append(row)
    return [grouped[i] for i in ids]


async def consents_by_profile_id(sessions: Sessions, ids: Sequence[int]) -> list[list[ProfileConsent]]:
    async with sessions() as db:
        found = await queries.consents_by_profile_ids(db, ids=ids)
    return [found[i] for i in ids]
