"""E-banners (电子锦旗) and thank-you letters (感谢信)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from datasources.content.appreciations import AppreciationCounts as CountsRow
from datasources.db.tables import Appreciation as AppreciationRow
from domain.enums import AppreciationKind, AppreciationStatus, BannerDesign
from schema.cache_control import APPRECIATIONS, PRIVATE, cache_hint

strawberry.enum(AppreciationKind, description="BANNER 电子锦旗 (a design with a short phrase) or LETTER 感谢信.")
strawberry.enum(
    AppreciationStatus,
    description="PENDING (passed the word filter, waiting for an editor), PUBLISHED (approved, shown publicly), "
    "REJECTED (refused or taken down by an editor, with a reason).",
)
strawberry.enum(
    BannerDesign,
    description="E-banner designs, all free of charge: CLASSIC_RED 红底金字, GOLDEN 金底红字, JADE 青玉, PEONY 牡丹.",
)


@strawberry.type(
    description="Published e-banners and thank-you letters of a staff member (all time).",
    directives=[cache_hint(300, APPRECIATIONS)],
)
class AppreciationCounts:
    banners: int = strawberry.field(description="电子锦旗 published.")
    letters: int = strawberry.field(description="感谢信 published.")

    @classmethod
    def from_row(cls, row: CountsRow) -> AppreciationCounts:
        return cls(banners=row.banners, letters=row.letters)


@strawberry.type(
    description="A published e-banner or thank-you letter, as everyone sees it. Non-monetary.",
    directives=[cache_hint(300, APPRECIATIONS)],
)
class Appreciation:
    id: strawberry.ID = strawberry.field(description="Stable id.")
    kind: AppreciationKind = strawberry.field(description="Banner or letter.")
    design: BannerDesign | None = strawberry.field(description="The banner's design; null for a letter.")
    text: str = strawberry.field(description="The banner's phrase or the letter's text (plain text, line breaks kept).")
    signature: str = strawberry.field(description='Who sent it, anonymised by default ("王**").')
    published_at: datetime | None = strawberry.field(description="When an editor approved it.")
    staff_member_id: strawberry.ID | None = strawberry.field(description="The staff member thanked, if any.")
    team_id: strawberry.ID | None = strawberry.field(description="The team thanked, for a team consult.")

    @classmethod
    def from_row(cls, row: AppreciationRow) -> Appreciation:
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=row.kind,
            design=row.design,
            text=row.text,
            signature=row.signature,
            published_at=row.published_at,
            staff_member_id=None if row.staff_id is None else strawberry.ID(str(row.staff_id)),
            team_id=None if row.team_id is None else strawberry.ID(str(row.team_id)),
        )


@strawberry.type(
    description="An e-banner or letter with its moderation state, as its author and content editors see it.",
    directives=[PRIVATE],
)
class ModeratedAppreciation:
    id: strawberry.ID = strawberry.field(description="Stable id.")
    kind: AppreciationKind = strawberry.field(description="Banner or letter.")
    design: BannerDesign | None = strawberry.field(description="The banner's design; null for a letter.")
    text: str = strawberry.field(description="The phrase or the letter's text.")
    signature: str = strawberry.field(description="The signature as it will be shown.")
    status: AppreciationStatus = strawberry.field(description="PENDING, PUBLISHED or REJECTED.")
    reject_reason: str | None = strawberry.field(description="Why an editor rejected it.")
    consult_id: strawberry.ID = strawberry.field(description="The consult it thanks for.")
    staff_member_id: strawberry.ID | None = strawberry.field(description="The staff member thanked, if any.")
    team_id: strawberry.ID | None = strawberry.field(description="The team thanked, for a team consult.")
    created_at: datetime = strawberry.field(description="When the patient sent it.")
    moderated_at: datetime | None = strawberry.field(description="When an editor last decided on it.")
    published_at: datetime | None = strawberry.field(description="When it was approved, while it is published.")

    @classmethod
    def from_row(cls, row: AppreciationRow) -> ModeratedAppreciation:
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=row.kind,
            design=row.design,
            text=row.text,
            signature=row.signature,
            status=row.status,
            reject_reason=row.reject_reason,
            consult_id=strawberry.ID(str(row.consult_id)),
            staff_member_id=None if row.staff_id is None else strawberry.ID(str(row.staff_id)),
            team_id=None if row.team_id is None else strawberry.ID(str(row.team_id)),
            created_at=row.created_at,
            moderated_at=row.moderated_at,
            published_at=row.published_at,
        )
