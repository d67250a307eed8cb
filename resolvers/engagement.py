"""E-banners and thank-you letters: patients write them, editors moderate them, everyone reads them."""

from __future__ import annotations

from typing import Annotated

import strawberry

from datasources.content import appreciations as store
from domain.audit import AuditResult
from domain.content import WordFilter
from domain.enums import AppreciationKind, AppreciationStatus, BannerDesign
from resolvers.auditing import audit_denial, write_audit
from schema.cache_control import APPRECIATIONS, invalidate_cache
from schema.common import Connection, check_first, decode_cursor, parse_id, to_connection
from schema.context import Info
from schema.engagement import Appreciation, ModeratedAppreciation
from schema.errors import BadInput
from schema.identity import NotFound, ProblemReason, ValidationFailed, not_found
from schema.permissions import forbidden

PUBLIC_CURSOR = "appreciation"
OWN_CURSOR = "my-appreciation"
QUEUE_CURSOR = "moderation"


@strawberry.input(description="An e-banner or thank-you letter for the staff member or team of a consult.")
class AppreciationInput:
    consult_id: strawberry.ID = strawberry.field(description="A completed consult of the signed-in account.")
    kind: AppreciationKind = strawberry.field(description="BANNER or LETTER; one of each per consult.")
    text: str = strawberry.field(
        description=f"A banner's phrase ({store.BANNER_PHRASE[0]} to {store.BANNER_PHRASE[1]} characters, one line, "
        f"e.g. 妙手回春) or a letter ({store.LETTER_TEXT[0]} to {store.LETTER_TEXT[1]} characters). Plain text."
    )
    design: BannerDesign | None = strawberry.field(
        default=None, description="Required for a banner; null for a letter."
    )
    show_name: bool = strawberry.field(
        default=False,
        description="Sign with the default profile's full name instead of the masked one (王**), which is the default.",
    )


@strawberry.type(description="Sent: it waits for an editor before it is shown.")
class AppreciationSuccess:
    appreciation: ModeratedAppreciation = strawberry.field(description="As stored, with its moderation state.")


CreateAppreciationResult = Annotated[
    AppreciationSuccess | ValidationFailed,
    strawberry.union("CreateAppreciationResult", description="The banner or letter sent, or why it was refused."),
]
ModerateAppreciationResult = Annotated[
    AppreciationSuccess | NotFound | ValidationFailed,
    strawberry.union("ModerateAppreciationResult", description="The decision taken, or why nothing was changed."),
]


def _refused(error: store.Refused) -> ValidationFailed:
    return ValidationFailed(
        message=str(error), field=error.field, reason=ProblemReason(error.reason), detail=error.detail
    )


def _account_id(info: Info) -> int:
    account_id = info.context.viewer.account_id
    assert account_id is not None, "guarded by a permission class"
    return account_id


async def create_appreciation(
    info: Info, input: Annotated[AppreciationInput, strawberry.argument(description="The banner or letter.")]
) -> CreateAppreciationResult:
    consult_id = parse_id(input.consult_id, "consultId")
    data = store.AppreciationData(
        consult_id=consult_id, kind=input.kind, text=input.text, design=input.design, show_name=input.show_name
    )
    words = WordFilter(info.context.settings.blocked_words)
    try:
        async with info.context.db() as db, db.begin():
            row = await store.create(db, account_id=_account_id(info), data=data, words=words, now=info.context.now)
            await write_audit(
                info, db, action=f"{input.kind.value.lower()}.create", result=AuditResult.OK,
                target_type="Appreciation", target_id=row.id,
            )  # fmt: skip
            return AppreciationSuccess(appreciation=ModeratedAppreciation.from_row(row))
    except store.ConsultNotYours:
        # The same answer whether the consult is someone else's or does not exist.
        await audit_denial(info, action="appreciation.create", target_type="Consult", target_id=consult_id)
        raise forbidden() from None
    except store.Refused as error:
        return _refused(error)


async def _moderate(info: Info, action: str, appreciation_id: int, reason: str | None) -> ModerateAppreciationResult:
    editor = _account_id(info)
    now = info.context.now
    try:
        async with info.context.db() as db, db.begin():
            if reason is None:
                row = await store.approve(db, appreciation_id=appreciation_id, editor_id=editor, now=now)
            else:
                row = await store.reject(db, appreciation_id=appreciation_id, reason=reason, editor_id=editor, now=now)
            await write_audit(
                info, db, action=action, result=AuditResult.OK, target_type="Appreciation", target_id=row.id
            )
            success = AppreciationSuccess(appreciation=ModeratedAppreciation.from_row(row))
    except store.AppreciationNotFound:
        return not_found("Appreciation", appreciation_id, "锦旗或感谢信")
    except store.Refused as error:
        return _refused(error)
    await invalidate_cache(info, {APPRECIATIONS})
    return success


async def approve_appreciation(
    info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="A PENDING banner or letter.")]
) -> ModerateAppreciationResult:
    return await _moderate(info, "appreciation.approve", parse_id(id), None)


async def reject_appreciation(
    info: Info,
    id: Annotated[strawberry.ID, strawberry.argument(description="A PENDING or PUBLISHED banner or letter.")],
    reason: Annotated[
        str, strawberry.argument(description=f"Why, 1 to {store.MAX_REJECT_REASON} characters; the patient sees it.")
    ],
) -> ModerateAppreciationResult:
    return await _moderate(info, "appreciation.reject", parse_id(id), reason)


async def appreciations(
    info: Info,
    staff_id: Annotated[strawberry.ID | None, strawberry.argument(description="The staff member's.")] = None,
    team_id: Annotated[strawberry.ID | None, strawberry.argument(description="Or the team's.")] = None,
    kind: Annotated[AppreciationKind | None, strawberry.argument(description="Only banners or letters.")] = None,
    first: Annotated[int, strawberry.argument(description="Page size, 1 to 50.")] = 20,
    after: Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")] = None,
) -> Connection[Appreciation]:
    check_first(first, info.context.settings.page_size_max)
    if (staff_id is None) == (team_id is None):
        raise BadInput("Give exactly one of `staffId` and `teamId`.", argument="staffId")
    async with info.context.db() as db:
        page = await store.list_published(
            db,
            staff_id=None if staff_id is None else parse_id(staff_id, "staffId"),
            team_id=None if team_id is None else parse_id(team_id, "teamId"),
            kind=kind,
            first=first,
            after=decode_cursor(PUBLIC_CURSOR, after),
        )
    return to_connection(page, kind=PUBLIC_CURSOR, key=lambda row: row.id, convert=Appreciation.from_row)


async def my_appreciations(
    info: Info,
    first: Annotated[int, strawberry.argument(description="Page size, 1 to 50.")] = 20,
    after: Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")] = None,
) -> Connection[ModeratedAppreciation]:
    check_first(first, info.context.settings.page_size_max)
    async with info.context.db() as db:
        page = await store.list_for_account(
            db, account_id=_account_id(info), first=first, after=decode_cursor(OWN_CURSOR, after)
        )
    return to_connection(page, kind=OWN_CURSOR, key=lambda row: row.id, convert=ModeratedAppreciation.from_row)


async def moderation_queue(
    info: Info,
    status: Annotated[
        AppreciationStatus | None, strawberry.argument(description="Only this status; null for all.")
    ] = AppreciationStatus.PENDING,
    kind: Annotated[AppreciationKind | None, strawberry.argument(description="Only banners or letters.")] = None,
    first: Annotated[int, strawberry.argument(description="Page size, 1 to 50.")] = 20,
    after: Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")] = None,
) -> Connection[ModeratedAppreciation]:
    check_first(first, info.context.settings.page_size_max)
    async with info.context.db() as db:
        page = await store.list_for_moderation(
            db, status=status, kind=kind, first=first, after=decode_cursor(QUEUE_CURSOR, after)
        )
    return to_connection(page, kind=QUEUE_CURSOR, key=lambda row: row.id, convert=ModeratedAppreciation.from_row)
