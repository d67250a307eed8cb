"""Staff members (医 / 护 / 药) with their consult statistics."""

from __future__ import annotations

import strawberry

from datasources.db.queries.staff import StaffStatsRow
from datasources.db.tables import ServiceOffering
from datasources.db.tables import Staff as StaffRow
from domain.enums import ConsultService, StaffRole
from schema.cache_control import STAFF, cache_hint
from schema.common import Money, RegistrationLink
from schema.context import Info
from schema.departments import Department
from schema.engagement import AppreciationCounts
from schema.enums import ROLE_LABELS


@strawberry.type(description="A consult service a staff member offers, with its price.")
class ServiceOffer:
    service: ConsultService = strawberry.field(description="Which of the five consult services.")
    price: Money = strawberry.field(description="Price of one consult.")

    @classmethod
    def from_row(cls, row: ServiceOffering) -> ServiceOffer:
        return cls(service=row.service, price=Money(cents=row.price_cents))


@strawberry.type(
    description="Consult statistics of a staff member, computed from the consult records. "
    "接单数 counts consults the staff member responded to; 好评率 is reviews with 4–5 stars divided by "
    "all reviews; 平均接单时间 is the mean time from payment to the first response. The recent window is "
    "rolling: the `windowDays` × 24 hours up to the moment of the request, a first response counting "
    "when it is later than its start and not later than now. It does not follow calendar days in "
    "Asia/Shanghai (or any time zone)."
)
class StaffStats:
    window_days: int = strawberry.field(
        description="Length of the recent window in periods of 24 hours, counted back from now (default 30)."
    )
    accepted_recent: int = strawberry.field(
        description="接单数: consults first responded to within the recent window (the last `windowDays` × 24 "
        "hours up to now)."
    )
    accepted_all_time: int = strawberry.field(
        description="接单数: consults responded to, all time (first response up to now)."
    )
    review_count: int = strawberry.field(description="Number of reviews behind the positive rate, all time.")
    positive_review_count: int = strawberry.field(description="Reviews with 4 or 5 stars, all time.")
    positive_rate: float | None = strawberry.field(
        description="好评率 between 0 and 1; null while there are too few reviews to be meaningful "
        "(see `positiveRateText`)."
    )
    positive_rate_text: str = strawberry.field(
        description='好评率 for display, e.g. "98.5%", or "评价不足5条" when there are too few reviews.'
    )
    avg_response_minutes: float | None = strawberry.field(
        description="平均接单时间: mean minutes from payment to first response, over the paid consults first "
        "responded to within the recent window; one decimal; null without such responses."
    )

    @classmethod
    def from_row(cls, row: StaffStatsRow, *, window_days: int, min_reviews: int) -> StaffStats:
        enough = row.reviews >= min_reviews
        rate = row.positive_reviews / row.reviews if enough else None
        return cls(
            window_days=window_days,
            accepted_recent=row.accepted_in_window,
            accepted_all_time=row.accepted_all_time,
            review_count=row.reviews,
            positive_review_count=row.positive_reviews,
            positive_rate=rate,
            positive_rate_text=f"{rate * 100:.1f}%" if rate is not None else f"评价不足{min_reviews}条",
            avg_response_minutes=None if row.avg_response_minutes is None else round(row.avg_response_minutes, 1),
        )


@strawberry.type(
    description="A doctor, nurse or pharmacist who takes internet consults.", directives=[cache_hint(300, STAFF)]
)
class StaffMember:
    id: strawberry.ID = strawberry.field(description="Stable id of the staff member.")
    code: str = strawberry.field(description="The staff member's code in the HIS (工号).")
    name: str = strawberry.field(description="Full name.")
    role: StaffRole = strawberry.field(description="DOCTOR, NURSE or PHARMACIST.")
    title: str = strawberry.field(description="Professional title, e.g. 主任医师.")
    specialties: list[str] = strawberry.field(description="What the staff member is especially good at (擅长).")
    photo_url: str = strawberry.field(description="Portrait photo address.")
    introduction: str = strawberry.field(description="A short introduction in plain language.")
    registration_link: RegistrationLink = strawberry.field(
        description="The registration (挂号) page for this staff member."
    )
    department_id: strawberry.Private[int]
    window_days: strawberry.Private[int]
    min_reviews: strawberry.Private[int]

    @strawberry.field(description="The role as the one-character label the mini-program shows: 医, 护 or 药.")
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    @strawberry.field(description="The department the staff member belongs to.")
    async def department(self, info: Info) -> Department:
        row = await info.context.loaders.department_by_id.load(self.department_id)
        assert row is not None, "staff.department_id is a foreign key"
        return Department.from_row(row)

    @strawberry.field(description="接单数, 好评率 and 平均接单时间, as defined on `StaffStats`.")
    async def stats(self, info: Info) -> StaffStats:
        row = await info.context.loaders.staff_stats_by_staff_id.load(int(self.id))
        return StaffStats.from_row(row, window_days=self.window_days, min_reviews=self.min_reviews)

    @strawberry.field(
        description="Published e-banners (电子锦旗) and thank-you letters (感谢信), all time; the items themselves "
        "are in `appreciations(staffId:)`."
    )
    async def appreciation_counts(self, info: Info) -> AppreciationCounts:
        return AppreciationCounts.from_row(
            await info.context.loaders.appreciation_counts_by_staff_id.load(int(self.id))
        )

    @strawberry.field(description="The consult services this staff member offers, with prices.")
    async def services(self, info: Info) -> list[ServiceOffer]:
        rows = await info.context.loaders.offerings_by_staff_id.load(int(self.id))
        return [ServiceOffer.from_row(row) for row in rows]

    @classmethod
    def from_row(cls, row: StaffRow, info: Info) -> StaffMember:
        settings = info.context.settings
        return cls(
            id=strawberry.ID(str(row.id)),
            code=row.code,
            name=row.name,
            role=row.role,
            title=row.title,
            specialties=list(row.specialties),
            photo_url=row.photo_url,
            introduction=row.introduction,
            registration_link=RegistrationLink(
                kind=row.registration_kind,
                target=row.registration_target,
                department_id=strawberry.ID(str(row.department_id)),
                staff_id=strawberry.ID(str(row.id)),
            ),
            department_id=row.department_id,
            window_days=settings.stats_window_days,
            min_reviews=settings.min_reviews_for_rate,
        )
