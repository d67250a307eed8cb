"""Consult orders: ordering and paying (patients), taking them on and completing them (doctors),
coordinating team and MDT consults (coordinators), opinions, refunds, and the public entry facts."""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

import strawberry

from datasources.consults import store
from datasources.consults.service import (
    Coordination,
    InvalidRequest,
    NotYours,
    OrderRequest,
    Refusal,
    StaffScope,
)
from datasources.consults.service import OrderRefused as Refused
from datasources.db.queries import staff as staff_queries
from datasources.db.queries.pages import Page
from datasources.db.tables import ConsultConsentDocument as ConsentRow
from datasources.db.tables import ConsultOrder as OrderRow
from datasources.identity.viewer import ViewerKind
from domain.audit import ActorKind, AuditResult
from domain.consults import Action, ServiceState
from domain.consults import IllegalTransition as Illegal
from domain.enums import ConsultService, StaffRole
from resolvers.auditing import audit_denial, write_audit
from schema.cache_control import CONSULT_CONSENTS, invalidate_cache
from schema.common import Connection, Money, check_first, decode_cursor, parse_id, to_connection
from schema.consults import (
    ConsultConsentDocument,
    ConsultConsentSuccess,
    ConsultOrder,
    ConsultOrderSuccess,
    ConsultPaymentSuccess,
    CreateConsultOrderSuccess,
    IllegalTransition,
    OrderRefused,
    RapidConsultStatus,
    StaffGroup,
    WxPaymentParams,
    refusal_code,
)
from schema.context import Info
from schema.enums import ROLE_LABELS
from schema.errors import BadInput, ClientError
from schema.identity import ProblemReason, ValidationFailed
from schema.permissions import forbidden
from schema.staff import StaffMember

CURSOR = "consult-order"
_VERSION = re.compile(r"[0-9A-Za-z.\-]{1,32}")

ConsultOrderResult = Annotated[
    ConsultOrderSuccess | IllegalTransition | OrderRefused | ValidationFailed,
    strawberry.union(
        "ConsultOrderResult",
        description="The order as changed, or why nothing changed: the state does not allow it, it was refused, "
        "or the input was wrong.",
    ),
]
CreateConsultOrderResult = Annotated[
    CreateConsultOrderSuccess | OrderRefused | ValidationFailed,
    strawberry.union("CreateConsultOrderResult", description="The order with its payment, or why none was placed."),
]
ConsultPaymentResult = Annotated[
    ConsultPaymentSuccess | IllegalTransition | OrderRefused,
    strawberry.union("ConsultPaymentResult", description="Payment parameters, or why there are none."),
]
PublishConsultConsentResult = Annotated[
    ConsultConsentSuccess | ValidationFailed,
    strawberry.union("PublishConsultConsentResult", description="The published version, or why it was refused."),
]


# ---- inputs ---------------------------------------------------------------------------------


@strawberry.input(
    description="A new consult order. Which fields are needed depends on the service: FOLLOW_UP and VIDEO need "
    "`staffId`; VIDEO also `consentVersion`; RAPID, TEAM and MDT need `complaint`; TEAM needs `teamId`; MDT needs "
    "`departmentIds`; TEAM and MDT need `preferredTimes`."
)
class CreateConsultOrderInput:
    idempotency_key: str = strawberry.field(
        description="A key the mini-program makes once per order form (8–64 letters, digits, - or _). Sending the "
        "same key again (a double tap, a retry) returns the same order instead of a second one."
    )
    service: ConsultService = strawberry.field(description="Which of the five services.")
    profile_id: strawberry.ID = strawberry.field(description="The patient profile (就诊人) the consult is for.")
    staff_id: strawberry.ID | None = strawberry.field(
        default=None, description="复诊续方/视频问诊: the doctor, nurse or pharmacist chosen."
    )
    team_id: strawberry.ID | None = strawberry.field(default=None, description="团队咨询: the team chosen.")
    department_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="MDT: 2 to 5 departments wanted."
    )
    complaint: str | None = strawberry.field(default=None, description="主诉: the problem, up to 500 characters.")
    history: str | None = strawberry.field(default=None, description="病史, up to 2,000 characters.")
    report_ids: list[str] | None = strawberry.field(default=None, description="Up to 10 HIS report ids to attach.")
    preferred_times: list[datetime] | None = strawberry.field(
        default=None, description="团队/MDT: 1 to 5 preferred times within the next 60 days."
    )
    consent_version: str | None = strawberry.field(
        default=None, description="视频问诊: the version of the informed consent shown and accepted."
    )

    def to_request(self) -> OrderRequest:
        return OrderRequest(
            idempotency_key=self.idempotency_key,
            service=self.service,
            profile_id=parse_id(self.profile_id, "profileId"),
            staff_id=None if self.staff_id is None else parse_id(self.staff_id, "staffId"),
            team_id=None if self.team_id is None else parse_id(self.team_id, "teamId"),
            department_ids=tuple(parse_id(d, "departmentIds") for d in self.department_ids or ()),
            complaint=self.complaint,
            history=self.history,
            report_ids=tuple(self.report_ids or ()),
            preferred_times=tuple(self.preferred_times or ()),
            consent_version=self.consent_version,
        )


# ---- helpers --------------------------------------------------------------------------------


def _actor(info: Info) -> store.Actor:
    viewer = info.context.viewer
    kind = {ViewerKind.PATIENT: ActorKind.PATIENT, ViewerKind.STAFF: ActorKind.STAFF}.get(
        viewer.kind, ActorKind.ANONYMOUS
    )
    return store.Actor(
        kind, viewer.audit_id, request_id=info.context.request_id, client_address=info.context.client_address
    )


def _account(info: Info) -> int:
    account_id = info.context.viewer.account_id
    assert account_id is not None, "guarded by the permission class"
    return account_id


def _scope(info: Info) -> StaffScope:
    viewer = info.context.viewer
    return StaffScope(account_id=_account(info), staff_id=viewer.staff_id, roles=viewer.roles)


async def _denied(info: Info, action: str, target_id: int) -> ClientError:
    # The same answer whether the order belongs to someone else or does not exist at all.
    await audit_denial(info, action=action, target_type="ConsultOrder", target_id=target_id)
    return forbidden()


def _illegal(problem: Illegal) -> IllegalTransition:
    return IllegalTransition(
        message=f"订单当前状态（{problem.state}）不允许此操作 (not allowed while {problem.field.value.lower()} is "
        f"{problem.state})",
        state_field=problem.field,
        current_state=problem.state,
        action=problem.action.value,
    )


def _refused(problem: Refused) -> OrderRefused:
    return OrderRefused(message=problem.message, refusal=problem.reason, code=refusal_code(problem.reason))


def _invalid(problem: InvalidRequest) -> ValidationFailed:
    return ValidationFailed(message=str(problem), field=problem.field, reason=ProblemReason.INVALID, detail=None)


async def _change(
    info: Info, action: str, order_id: int, work: Callable[[], Awaitable[OrderRow]]
) -> ConsultOrderResult:
    try:
        row = await work()
    except NotYours:
        raise await _denied(info, action, order_id) from None
    except Illegal as problem:
        return _illegal(problem)
    except Refused as problem:
        return _refused(problem)
    except InvalidRequest as problem:
        return _invalid(problem)
    except store.ConcurrentChange:
        return OrderRefused(
            message="订单刚刚发生了变化，请刷新后重试 (the order just changed; reload and try again)",
            refusal=Refusal.CONCURRENT_CHANGE,
            code=refusal_code(Refusal.CONCURRENT_CHANGE),
        )
    return ConsultOrderSuccess(order=ConsultOrder.from_row(row, info))


def _page(page: Page[OrderRow], info: Info) -> Connection[ConsultOrder]:
    return to_connection(
        page, kind=CURSOR, key=lambda row: row.id, convert=lambda row: ConsultOrder.from_row(row, info)
    )


OrderId = Annotated[strawberry.ID, strawberry.argument(description="Id of the order.")]
First = Annotated[int, strawberry.argument(description="Page size, 1 to 50.")]
After = Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")]


# ---- public ---------------------------------------------------------------------------------


async def consult_consent(
    info: Info,
    service: Annotated[ConsultService, strawberry.argument(description="The service.")] = ConsultService.VIDEO,
) -> ConsultConsentDocument | None:
    async with info.context.db() as db:
        row = await store.current_consent(db, service=service, now=info.context.now)
    return None if row is None else ConsultConsentDocument.from_row(row)


async def rapid_consult_status(info: Info) -> RapidConsultStatus:
    async with info.context.db() as db:
        status = await store.rapid_status(db, now=info.context.now)
    settings = info.context.settings
    wait = None
    if status.on_duty:
        handle = status.avg_handle_minutes if status.avg_handle_minutes is not None else 10.0
        wait = max(1, math.ceil((status.queue_length + 1) * handle / status.on_duty))
    return RapidConsultStatus(
        queue_length=status.queue_length,
        doctors_on_duty=status.on_duty,
        expected_wait_minutes=wait,
        response_deadline_minutes=settings.consult_rapid_response_minutes,
        price=Money(cents=settings.consult_rapid_price_cents),
    )


async def follow_up_staff(
    info: Info,
    department_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this department.")] = None,
    first_per_role: Annotated[int, strawberry.argument(description="Staff per role, 1 to 50.")] = 10,
) -> list[StaffGroup]:
    check_first(first_per_role, info.context.settings.page_size_max)
    department = None if department_id is None else parse_id(department_id, "departmentId")
    groups = []
    async with info.context.db() as db:
        for role in StaffRole:
            page = await staff_queries.list_staff(
                db,
                role=role,
                department_id=department,
                service=ConsultService.FOLLOW_UP,
                first=first_per_role,
                after=None,
            )
            for row in page.rows:
                info.context.loaders.staff_by_id.prime(row.id, row)
            groups.append(
                StaffGroup(
                    role=role,
                    label=ROLE_LABELS[role],
                    total_count=page.total,
                    staff=[StaffMember.from_row(row, info) for row in page.rows],
                )
            )
    return groups


# ---- patients -------------------------------------------------------------------------------


async def consult_orders(
    info: Info,
    service: Annotated[ConsultService | None, strawberry.argument(description="Only this service.")] = None,
    first: First = 20,
    after: After = None,
) -> Connection[ConsultOrder]:
    check_first(first, info.context.settings.page_size_max)
    async with info.context.db() as db:
        page = await store.orders_of_account(
            db, account_id=_account(info), service=service, first=first, after=decode_cursor(CURSOR, after)
        )
    return _page(page, info)


async def consult_order(info: Info, id: OrderId) -> ConsultOrder:
    order_id = parse_id(id)
    return await _read(info, order_id, info.context.consults.for_patient(order_id, account_id=_account(info)))


async def _read(info: Info, order_id: int, load: Awaitable[OrderRow]) -> ConsultOrder:
    """One order the viewer may see; any other id is FORBIDDEN (and audited as such)."""
    try:
        row = await load
    except NotYours:
        raise await _denied(info, "consult.read", order_id) from None
    return ConsultOrder.from_row(row, info)


async def create_consult_order(
    info: Info, input: Annotated[CreateConsultOrderInput, strawberry.argument(description="The order.")]
) -> CreateConsultOrderResult:
    request = input.to_request()
    try:
        created = await info.context.consults.create(
            request, account_id=_account(info), actor=_actor(info), now=info.context.now
        )
    except NotYours:
        raise await _denied(info, "consult.create", request.profile_id) from None
    except Refused as problem:
        return _refused(problem)
    except InvalidRequest as problem:
        return _invalid(problem)
    return CreateConsultOrderSuccess(
        order=ConsultOrder.from_row(created.order, info),
        payment=None if created.payment is None else WxPaymentParams.of(created.payment),
        replayed=created.replayed,
    )


async def request_consult_payment(info: Info, id: OrderId) -> ConsultPaymentResult:
    order_id = parse_id(id)
    try:
        row, payment = await info.context.consults.payment_for(
            order_id, account_id=_account(info), now=info.context.now
        )
    except NotYours:
        raise await _denied(info, "consult.pay", order_id) from None
    except Illegal as problem:
        return _illegal(problem)
    except Refused as problem:
        return _refused(problem)
    return ConsultPaymentSuccess(order=ConsultOrder.from_row(row, info), payment=WxPaymentParams.of(payment))


async def sync_consult_payment(info: Info, id: OrderId) -> ConsultOrderResult:
    order_id = parse_id(id)
    consults = info.context.consults
    return await _change(
        info,
        "consult.sync_payment",
        order_id,
        lambda: consults.sync_payment(order_id, account_id=_account(info), actor=_actor(info), now=info.context.now),
    )


async def cancel_consult_order(
    info: Info,
    id: OrderId,
    reason: Annotated[str | None, strawberry.argument(description="Why, in a few words (optional).")] = None,
) -> ConsultOrderResult:
    order_id = parse_id(id)
    consults = info.context.consults
    return await _change(
        info,
        "consult.cancel",
        order_id,
        lambda: consults.cancel(
            order_id, account_id=_account(info), reason=reason, actor=_actor(info), now=info.context.now
        ),
    )


async def rate_consult_order(
    info: Info,
    id: OrderId,
    rating: Annotated[int, strawberry.argument(description="1 to 5 stars.")],
    review: Annotated[str | None, strawberry.argument(description="A few words, up to 300 characters.")] = None,
) -> ConsultOrderResult:
    order_id = parse_id(id)
    consults = info.context.consults
    return await _change(
        info,
        "consult.rate",
        order_id,
        lambda: consults.rate(
            order_id, account_id=_account(info), rating=rating, review=review, actor=_actor(info), now=info.context.now
        ),
    )


async def dev_pay_consult_order(info: Info, id: OrderId) -> ConsultOrderResult:
    sandbox = info.context.pay_sandbox
    if sandbox is None:
        raise BadInput("WeChat Pay is not the sandbox here: pay with wx.requestPayment.", argument="id")
    order_id = parse_id(id)
    consults = info.context.consults

    async def pay() -> OrderRow:
        row, _ = await consults.payment_for(order_id, account_id=_account(info), now=info.context.now)
        try:
            await sandbox.pay(row.order_no)  # the sandbox notifies this app, as WeChat Pay would
        except (LookupError, ValueError) as problem:
            raise Refused(Refusal.PAYMENT_UNAVAILABLE, f"沙箱拒绝支付 (the sandbox refused: {problem})") from None
        return await consults.for_patient(order_id, account_id=_account(info))

    return await _change(info, "consult.dev_pay", order_id, pay)


# ---- doctors --------------------------------------------------------------------------------


async def doctor_consult_orders(
    info: Info,
    states: Annotated[
        list[ServiceState] | None, strawberry.argument(description="Only orders in these service states.")
    ] = None,
    first: First = 20,
    after: After = None,
) -> Connection[ConsultOrder]:
    check_first(first, info.context.settings.page_size_max)
    staff_id = info.context.viewer.staff_id
    assert staff_id is not None, "guarded by IsDoctor"
    async with info.context.db() as db:
        page = await store.orders_of_doctor(
            db, staff_id=staff_id, states=states, first=first, after=decode_cursor(CURSOR, after)
        )
    return _page(page, info)


async def rapid_consult_queue(info: Info, first: First = 20, after: After = None) -> Connection[ConsultOrder]:
    check_first(first, info.context.settings.page_size_max)
    staff_id = info.context.viewer.staff_id
    assert staff_id is not None, "guarded by IsDoctor"
    async with info.context.db() as db:
        if not await store.in_rapid_team(db, staff_id):
            raise forbidden()
        page = await store.rapid_queue(db, first=first, after=decode_cursor(CURSOR, after))
    return _page(page, info)


def _doctor_change(action: str, method: str) -> Callable[..., Awaitable[ConsultOrderResult]]:
    async def resolve(info: Info, id: OrderId) -> ConsultOrderResult:
        order_id = parse_id(id)
        work = getattr(info.context.consults, method)
        return await _change(
            info, action, order_id, lambda: work(order_id, scope=_scope(info), actor=_actor(info), now=info.context.now)
        )

    return resolve


accept_consult_order = _doctor_change("consult.accept", "accept")
accept_rapid_consult = _doctor_change("consult.accept_rapid", "accept_rapid")
complete_consult_order = _doctor_change("consult.complete", "complete")
publish_consult_opinion = _doctor_change("consult.opinion_publish", "publish_opinion")


async def decline_consult_order(
    info: Info,
    id: OrderId,
    reason: Annotated[str, strawberry.argument(description="Why, for the patient to read (up to 80 characters).")],
) -> ConsultOrderResult:
    order_id = parse_id(id)
    consults = info.context.consults
    return await _change(
        info,
        "consult.decline",
        order_id,
        lambda: consults.decline(order_id, scope=_scope(info), reason=reason, actor=_actor(info), now=info.context.now),
    )


async def write_consult_opinion(
    info: Info,
    id: OrderId,
    body: Annotated[str, strawberry.argument(description="The combined opinion, up to 10,000 characters.")],
) -> ConsultOrderResult:
    order_id = parse_id(id)
    consults = info.context.consults
    return await _change(
        info,
        "consult.opinion_write",
        order_id,
        lambda: consults.write_opinion(
            order_id, scope=_scope(info), body=body, actor=_actor(info), now=info.context.now
        ),
    )


async def set_rapid_consult_duty(
    info: Info, on_duty: Annotated[bool, strawberry.argument(description="True to start taking rapid consults.")]
) -> bool:
    try:
        return await info.context.consults.set_duty(
            scope=_scope(info), on=on_duty, actor=_actor(info), now=info.context.now
        )
    except NotYours:
        raise forbidden() from None


# ---- coordinators ---------------------------------------------------------------------------


async def coordination_consult_orders(
    info: Info,
    states: Annotated[
        list[ServiceState] | None, strawberry.argument(description="Only orders in these service states.")
    ] = None,
    first: First = 20,
    after: After = None,
) -> Connection[ConsultOrder]:
    check_first(first, info.context.settings.page_size_max)
    async with info.context.db() as db:
        page = await store.coordinated_orders(db, states=states, first=first, after=decode_cursor(CURSOR, after))
    return _page(page, info)


async def staff_consult_order(info: Info, id: OrderId) -> ConsultOrder:
    order_id = parse_id(id)
    return await _read(info, order_id, info.context.consults.for_staff(order_id, scope=_scope(info)))


async def _coordinate(info: Info, order_id: int, work: Coordination) -> ConsultOrderResult:
    consults = info.context.consults
    return await _change(
        info,
        f"consult.{work.action.value.lower()}",
        order_id,
        lambda: consults.coordinate(order_id, work, scope=_scope(info), actor=_actor(info), now=info.context.now),
    )


async def accept_consult_coordination(info: Info, id: OrderId) -> ConsultOrderResult:
    return await _coordinate(info, parse_id(id), Coordination(Action.ACCEPT))


async def reject_consult_order(
    info: Info,
    id: OrderId,
    reason: Annotated[str, strawberry.argument(description="Why, for the patient to read; refunded in full.")],
) -> ConsultOrderResult:
    return await _coordinate(info, parse_id(id), Coordination(Action.REJECT, reason=reason))


async def mark_consult_patient_contacted(
    info: Info,
    id: OrderId,
    note: Annotated[str | None, strawberry.argument(description="Internal note (not shown to the patient).")] = None,
) -> ConsultOrderResult:
    return await _coordinate(info, parse_id(id), Coordination(Action.CONTACT, reason=note))


async def assign_consult_experts(
    info: Info,
    id: OrderId,
    staff_ids: Annotated[
        list[strawberry.ID],
        strawberry.argument(description="2 to 8 doctors: team members (团队), or from the chosen departments (MDT)."),
    ],
) -> ConsultOrderResult:
    experts = tuple(parse_id(s, "staffIds") for s in staff_ids)
    return await _coordinate(info, parse_id(id), Coordination(Action.ASSIGN_EXPERTS, experts=experts))


async def schedule_consult_meeting(
    info: Info,
    id: OrderId,
    starts_at: Annotated[datetime, strawberry.argument(description="When it takes place, within 90 days.")],
) -> ConsultOrderResult:
    local = starts_at.astimezone(info.context.settings.zone)
    reason = f"会诊时间 {local:%Y-%m-%d %H:%M}"
    return await _coordinate(info, parse_id(id), Coordination(Action.SCHEDULE, meeting_at=starts_at, reason=reason))


async def mark_consult_held(info: Info, id: OrderId) -> ConsultOrderResult:
    return await _coordinate(info, parse_id(id), Coordination(Action.MARK_HELD))


async def refund_consult_order(
    info: Info,
    id: OrderId,
    reason: Annotated[str, strawberry.argument(description="Why, for the patient to read (up to 80 characters).")],
    amount_cents: Annotated[
        int | None,
        strawberry.argument(
            description="Part of the price, in fen, for a completed consult; unfinished consults are refunded in full."
        ),
    ] = None,
) -> ConsultOrderResult:
    order_id = parse_id(id)
    consults = info.context.consults
    return await _change(
        info,
        "consult.refund",
        order_id,
        lambda: consults.refund_by_staff(
            order_id, cents=amount_cents, reason=reason, actor=_actor(info), now=info.context.now
        ),
    )


# ---- content editors ------------------------------------------------------------------------


async def publish_consult_consent(
    info: Info,
    service: Annotated[ConsultService, strawberry.argument(description="The service it is for.")],
    version: Annotated[str, strawberry.argument(description="A new version label, e.g. 1.1.")],
    title: Annotated[str, strawberry.argument(description="Heading, up to 128 characters.")],
    body: Annotated[str, strawberry.argument(description="The full text, up to 20,000 characters.")],
) -> PublishConsultConsentResult:
    problems = [
        (
            "version",
            not _VERSION.fullmatch(version),
            "版本号为1到32个字母、数字、点或- (1 to 32 letters, digits, . or -)",
        ),
        ("title", not 1 <= len(title.strip()) <= 128, "标题为1到128个字 (1 to 128 characters)"),
        ("body", not 1 <= len(body.strip()) <= 20_000, "正文为1到20000个字 (1 to 20,000 characters)"),
    ]
    for field, wrong, message in problems:
        if wrong:
            return ValidationFailed(message=message, field=field, reason=ProblemReason.INVALID, detail=None)
    async with info.context.db() as db, db.begin():
        if await store.consent_version_exists(db, service=service, version=version):
            return ValidationFailed(
                message="该版本号已存在 (this version exists)",
                field="version",
                reason=ProblemReason.DUPLICATE,
                detail=None,
            )
        row = ConsentRow(
            service=service,
            version=version,
            title=title.strip(),
            body=body.strip(),
            effective_at=info.context.now,
            created_by=_account(info),
        )
        db.add(row)
        await db.flush()
        await write_audit(
            info,
            db,
            action="consult_consent.publish",
            result=AuditResult.OK,
            target_type="ConsultConsent",
            target_id=row.id,
        )
        success = ConsultConsentSuccess(document=ConsultConsentDocument.from_row(row))
    await invalidate_cache(info, {CONSULT_CONSENTS})
    return success
