"""E-banners (电子锦旗) and thank-you letters (感谢信): written by patients for a completed consult of
theirs, filtered for blocked words, approved or rejected by a CONTENT_EDITOR, then shown publicly.

Non-monetary by design: no price, no payment, no gift value is stored or asked for.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from datasources.db.queries.pages import Page, fetch_page
from datasources.db.tables import Appreciation, Consult, PatientAccount, PatientProfile
from domain.content import WordFilter
from domain.enums import AppreciationKind, AppreciationStatus, BannerDesign, ConsultStatus
from domain.identity import mask_name

BANNER_PHRASE = (2, 12)  # characters of a banner's phrase, e.g. 妙手回春, 医德高尚 仁心仁术
LETTER_TEXT = (10, 1000)
MAX_REJECT_REASON = 200
ANONYMOUS_SIGNATURE = "患者"


class ConsultNotYours(Exception):
    """No consult with that id belongs to the account (whether it exists or not)."""


class AppreciationNotFound(Exception):
    pass


class Refused(ValueError):
    def __init__(self, message: str, *, field: str | None, reason: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class AppreciationData:
    consult_id: int
    kind: AppreciationKind
    text: str
    design: BannerDesign | None = None
    show_name: bool = False


@dataclass(frozen=True)
class AppreciationCounts:
    banners: int = 0
    letters: int = 0


def _clean(text: str) -> str:
    # Plain text only: control characters (other than line breaks in letters) are dropped.
    kept = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C")
    return "\n".join(line.strip() for line in kept.strip().splitlines())


def validate(data: AppreciationData, *, words: WordFilter) -> AppreciationData:
    """Shape rules first, then the word filter; raises Refused."""
    text = _clean(data.text)
    if data.kind is AppreciationKind.BANNER:
        if data.design is None:
            raise Refused("请选择锦旗样式 (choose a banner design)", field="design", reason="INVALID")
        low, high = BANNER_PHRASE
        if "\n" in text:
            raise Refused("锦旗题字为一行 (a banner phrase is one line)", field="text", reason="INVALID")
    else:
        if data.design is not None:
            raise Refused("感谢信没有锦旗样式 (a letter has no design)", field="design", reason="INVALID")
        low, high = LETTER_TEXT
    if not low <= len(text) <= high:
        raise Refused(f"内容须为{low}至{high}个字 (text: {low} to {high} characters)", field="text", reason="INVALID")
    blocked = words.blocked_words_in(text)
    if blocked:
        raise Refused(
            "内容含有不允许的词语，请修改后再提交 (the text contains words that are not allowed)",
            field="text",
            reason="BLOCKED_WORDS",
            detail=", ".join(blocked),
        )
    return AppreciationData(data.consult_id, data.kind, text, data.design, data.show_name)


async def _signature(db: AsyncSession, *, account_id: int, show_name: bool) -> str:
    """The account's default profile's name, masked (王**) unless the patient chose to show it."""
    name = await db.scalar(
        select(PatientProfile.name)
        .join(PatientAccount, PatientAccount.default_profile_id == PatientProfile.id)
        .where(PatientAccount.id == account_id)
    )
    if not name:
        return ANONYMOUS_SIGNATURE
    return name if show_name else mask_name(name)


async def create(
    db: AsyncSession, *, account_id: int, data: AppreciationData, words: WordFilter, now: datetime
) -> Appreciation:
    """A PENDING banner or letter for the consult's staff member or team.

    Raises ConsultNotYours before anything else (so nothing is revealed about others' consults),
    then Refused (NOT_COMPLETED, DUPLICATE, INVALID, BLOCKED_WORDS)."""
    consult = await db.scalar(select(Consult).where(Consult.id == data.consult_id, Consult.account_id == account_id))
    if consult is None:
        raise ConsultNotYours()
    if consult.status is not ConsultStatus.COMPLETED:
        raise Refused(
            "问诊完成后才能致谢 (only a completed consult can be thanked for)",
            field="consultId",
            reason="NOT_COMPLETED",
        )
    valid = validate(data, words=words)
    exists = await db.scalar(
        select(Appreciation.id).where(Appreciation.consult_id == consult.id, Appreciation.kind == data.kind)
    )
    if exists is not None:
        what = "锦旗" if data.kind is AppreciationKind.BANNER else "感谢信"
        raise Refused(
            f"这次问诊已经送过{what} (one {data.kind.value.lower()} per consult)", field="consultId", reason="DUPLICATE"
        )
    row = Appreciation(
        kind=valid.kind,
        consult_id=consult.id,
        account_id=account_id,
        staff_id=consult.staff_id,
        team_id=None if consult.staff_id is not None else consult.team_id,
        design=valid.design,
        text=valid.text,
        signature=await _signature(db, account_id=account_id, show_name=valid.show_name),
        status=AppreciationStatus.PENDING,
        created_at=now,
    )
    db.add(row)
    await db.flush()
    return row


async def _get(db: AsyncSession, appreciation_id: int) -> Appreciation:
    row = await db.get(Appreciation, appreciation_id, with_for_update=True)
    if row is None:
        raise AppreciationNotFound()
    return row


async def approve(db: AsyncSession, *, appreciation_id: int, editor_id: int, now: datetime) -> Appreciation:
    """PENDING → PUBLISHED. Raises AppreciationNotFound, Refused (WRONG_STATE)."""
    row = await _get(db, appreciation_id)
    if row.status is not AppreciationStatus.PENDING:
        raise Refused("只能通过待审核的内容 (only PENDING can be approved)", field=None, reason="WRONG_STATE")
    row.status = AppreciationStatus.PUBLISHED
    row.moderated_at = row.published_at = now
    row.moderated_by = editor_id
    await db.flush()
    return row


async def reject(db: AsyncSession, *, appreciation_id: int, reason: str, editor_id: int, now: datetime) -> Appreciation:
    """PENDING or PUBLISHED (taken down) → REJECTED, with a reason the patient sees.
    Raises AppreciationNotFound, Refused (INVALID, WRONG_STATE)."""
    reason = reason.strip()
    if not 1 <= len(reason) <= MAX_REJECT_REASON:
        raise Refused(
            f"请填写1至{MAX_REJECT_REASON}字的原因 (reason: 1 to {MAX_REJECT_REASON} characters)",
            field="reason",
            reason="INVALID",
        )
    row = await _get(db, appreciation_id)
    if row.status is AppreciationStatus.REJECTED:
        raise Refused("已经驳回 (already rejected)", field=None, reason="WRONG_STATE")
    row.status = AppreciationStatus.REJECTED
    row.reject_reason = reason
    row.published_at = None
    row.moderated_at = now
    row.moderated_by = editor_id
    await db.flush()
    return row


# ---- reads ---------------------------------------------------------------------------------


async def list_published(
    db: AsyncSession,
    *,
    staff_id: int | None,
    team_id: int | None,
    kind: AppreciationKind | None,
    first: int,
    after: int | None,
) -> Page[Appreciation]:
    """Published ones for a staff member or a team, in id order (the order they were written)."""
    query = select(Appreciation).where(Appreciation.status == AppreciationStatus.PUBLISHED)
    query = query.where(Appreciation.staff_id == staff_id if staff_id is not None else Appreciation.team_id == team_id)
    if kind is not None:
        query = query.where(Appreciation.kind == kind)
    return await fetch_page(db, query, key=Appreciation.id, first=first, after=after)


async def list_for_account(db: AsyncSession, *, account_id: int, first: int, after: int | None) -> Page[Appreciation]:
    query = select(Appreciation).where(Appreciation.account_id == account_id)
    return await fetch_page(db, query, key=Appreciation.id, first=first, after=after)


async def list_for_moderation(
    db: AsyncSession, *, status: AppreciationStatus | None, kind: AppreciationKind | None, first: int, after: int | None
) -> Page[Appreciation]:
    """Oldest first, so the queue is worked through in order."""
    query = select(Appreciation)
    if status is not None:
        query = query.where(Appreciation.status == status)
    if kind is not None:
        query = query.where(Appreciation.kind == kind)
    return await fetch_page(db, query, key=Appreciation.id, first=first, after=after)


async def published_appreciation_counts(
    db: AsyncSession, *, staff_ids: Sequence[int], since: datetime | None = None
) -> dict[int, AppreciationCounts]:
    """Published banners and letters per staff member (published at or after `since`, or ever):
    one GROUP BY. Staff without any get zeros. Used by staff pages and the popularity board."""
    if not staff_ids:
        return {}
    query = (
        select(
            Appreciation.staff_id,
            func.sum(case((Appreciation.kind == AppreciationKind.BANNER, 1), else_=0)),
            func.sum(case((Appreciation.kind == AppreciationKind.LETTER, 1), else_=0)),
        )
        .where(Appreciation.staff_id.in_(staff_ids), Appreciation.status == AppreciationStatus.PUBLISHED)
        .group_by(Appreciation.staff_id)
    )
    if since is not None:
        query = query.where(Appreciation.published_at >= since)
    found = {
        staff_id: AppreciationCounts(int(banners or 0), int(letters or 0))
        for staff_id, banners, letters in await db.execute(query)
    }
    return {i: found.get(i, AppreciationCounts()) for i in staff_ids}
