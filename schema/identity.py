"""Patient accounts and profiles (就诊人), consents, staff accounts, sessions, and the audit log."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import strawberry

from datasources.db.tables import AuditEntry as AuditRow
from datasources.db.tables import ConsentDocument as ConsentDocumentRow
from datasources.db.tables import PatientAccount as AccountRow
from datasources.db.tables import PatientProfile as ProfileRow
from datasources.db.tables import ProfileConsent
from datasources.db.tables import StaffAccount as StaffAccountRow
from datasources.identity.profiles import consent_granted
from domain.enums import AdminRole, ConsentGiver, ConsentKind, ProfileRelation
from domain.identity import Gender, age_on, mask_name
from schema.cache_control import PRIVATE
from schema.context import Info
from schema.errors import ErrorCode

strawberry.enum(Gender, description="MALE 男, FEMALE 女 — as given by the resident ID number.")
strawberry.enum(
    ProfileRelation,
    description="How a profile relates to the account holder: SELF 本人, PARENT 父母, CHILD 子女, SPOUSE 配偶, "
    "OTHER 其他.",
)
strawberry.enum(ConsentKind, description="HEALTH_DATA: processing of sensitive health data (PIPL art. 29).")
strawberry.enum(
    ConsentGiver,
    description="Who gave a consent: SELF, or GUARDIAN (required for a profile under 14, PIPL art. 31).",
)
strawberry.enum(
    AdminRole,
    description="Admin-side roles: SUPER_ADMIN (accounts, audit log, everything), CONTENT_EDITOR (articles, "
    "homepage, moderation), COORDINATOR (team consults and MDT), DOCTOR (accepts consults, writes opinions), "
    "OPERATIONS (dashboards).",
)


@strawberry.type(description="A consent text that patients accept, in one version.")
class ConsentDocument:
    kind: ConsentKind = strawberry.field(description="What the consent covers.")
    version: str = strawberry.field(description="Version to quote when accepting it.")
    title: str = strawberry.field(description="Heading.")
    body: str = strawberry.field(description="The full text, in plain language.")
    effective_at: datetime = strawberry.field(description="From when this version applies.")

    @classmethod
    def from_row(cls, row: ConsentDocumentRow) -> ConsentDocument:
        return cls(kind=row.kind, version=row.version, title=row.title, body=row.body, effective_at=row.effective_at)


@strawberry.type(description="The state of a profile's consent to processing of its health data.")
class ConsentStatus:
    granted: bool = strawberry.field(description="True while an accepted, not withdrawn consent exists.")
    version: str | None = strawberry.field(description="The version accepted, if any.")
    accepted_at: datetime | None = strawberry.field(description="When it was accepted.")
    given_by: ConsentGiver | None = strawberry.field(description="The person, or a guardian.")
    guardian_name: str | None = strawberry.field(description="The guardian's name, masked (王**).")
    withdrawn_at: datetime | None = strawberry.field(description="When the latest consent was withdrawn.")

    @classmethod
    def from_rows(cls, rows: list[ProfileConsent]) -> ConsentStatus:
        latest = rows[0] if rows else None
        if latest is None:
            return cls(
                granted=False, version=None, accepted_at=None, given_by=None, guardian_name=None, withdrawn_at=None
            )
        return cls(
            granted=consent_granted(rows),
            version=latest.version,
            accepted_at=latest.accepted_at,
            given_by=latest.given_by,
            guardian_name=mask_name(latest.guardian_name) if latest.guardian_name else None,
            withdrawn_at=latest.withdrawn_at,
        )


@strawberry.type(
    description="A patient profile (就诊人) managed by the account: the holder, or a parent, child or spouse. "
    "ID and mobile numbers are always masked; the full values are never returned.",
    directives=[PRIVATE],
)
class PatientProfile:
    id: strawberry.ID = strawberry.field(description="Stable id of the profile.")
    name: str = strawberry.field(description="Full name, as entered by the account holder.")
    masked_name: str = strawberry.field(description="The name masked for display in shared places (王**).")
    gender: Gender = strawberry.field(description="From the resident ID number.")
    birth_date: date = strawberry.field(description="From the resident ID number.")
    relation: ProfileRelation = strawberry.field(description="Relation to the account holder.")
    id_number: str = strawberry.field(description="Resident ID number, masked: 110105********1234.")
    mobile: str = strawberry.field(description="Mobile number, masked: 138****1234.")
    his_patient_id: str | None = strawberry.field(description="The patient's id in the hospital's HIS, if bound.")
    is_default: bool = strawberry.field(description="The profile chosen first in forms.")
    today: strawberry.Private[date]

    @strawberry.field(description="Age in completed years today.")
    def age(self) -> int:
        return age_on(self.birth_date, self.today)

    @strawberry.field(description="Consent to processing of this profile's health data (PIPL art. 29).")
    async def health_data_consent(self, info: Info) -> ConsentStatus:
        return ConsentStatus.from_rows(await info.context.loaders.consents_by_profile_id.load(int(self.id)))

    @classmethod
    def from_row(cls, row: ProfileRow, *, default_id: int | None, today: date) -> PatientProfile:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            masked_name=mask_name(row.name),
            gender=row.gender,
            birth_date=row.birth_date,
            relation=row.relation,
            id_number=row.id_number_masked,
            mobile=row.mobile_masked,
            his_patient_id=row.his_patient_id,
            is_default=row.id == default_id,
            today=today,
        )


@strawberry.type(description="The signed-in mini-program account and the profiles it manages.", directives=[PRIVATE])
class PatientAccount:
    id: strawberry.ID = strawberry.field(description="Stable id of the account.")
    created_at: datetime = strawberry.field(description="When the account was first used.")
    default_profile_id: strawberry.ID | None = strawberry.field(description="The default profile, if any.")

    @strawberry.field(description="The profiles this account manages (at most 10), oldest first.")
    async def profiles(self, info: Info) -> list[PatientProfile]:
        rows = await info.context.loaders.profiles_by_account_id.load(int(self.id))
        default = int(self.default_profile_id) if self.default_profile_id else None
        return [PatientProfile.from_row(row, default_id=default, today=info.context.now.date()) for row in rows]

    @classmethod
    def from_row(cls, row: AccountRow) -> PatientAccount:
        return cls(
            id=strawberry.ID(str(row.id)),
            created_at=row.created_at,
            default_profile_id=strawberry.ID(str(row.default_profile_id)) if row.default_profile_id else None,
        )


@strawberry.type(description="A signed-in session: send the token as `Authorization: Bearer <token>`.")
class PatientSession:
    token: str = strawberry.field(description="The session token. Keep it in the mini-program's storage only.")
    expires_at: datetime = strawberry.field(description="When the session ends; sign in again after it.")
    account: PatientAccount = strawberry.field(description="The account signed in.")


@strawberry.type(description="A staff account of the admin side.")
class StaffAccount:
    id: strawberry.ID = strawberry.field(description="Stable id of the account.")
    username: str = strawberry.field(description="Login name.")
    display_name: str = strawberry.field(description="Name shown in the admin side.")
    roles: list[AdminRole] = strawberry.field(description="What the account may do.")
    staff_member_id: strawberry.ID | None = strawberry.field(description="The staff member, for DOCTOR accounts.")

    @classmethod
    def from_row(cls, row: StaffAccountRow) -> StaffAccount:
        return cls(
            id=strawberry.ID(str(row.id)),
            username=row.username,
            display_name=row.display_name,
            roles=[AdminRole(r) for r in row.roles],
            staff_member_id=strawberry.ID(str(row.staff_id)) if row.staff_id else None,
        )


@strawberry.type(description="A signed-in staff session: send the token as `Authorization: Bearer <token>`.")
class StaffSession:
    token: str = strawberry.field(description="The session token.")
    expires_at: datetime = strawberry.field(description="Absolute end of the session.")
    idle_timeout_minutes: int = strawberry.field(description="The session ends after this long without requests.")
    account: StaffAccount = strawberry.field(description="The account signed in.")


@strawberry.type(description="One audit record: who did what to which object, and how it ended.")
class AuditEntry:
    id: strawberry.ID = strawberry.field(description="Position in the log.")
    occurred_at: datetime = strawberry.field(description="When it happened.")
    actor_kind: str = strawberry.field(description="ANONYMOUS, PATIENT, STAFF or SYSTEM.")
    actor_id: str | None = strawberry.field(description="The account id of the actor.")
    action: str = strawberry.field(description="What was done, e.g. staff.login, profile.add.")
    target_type: str | None = strawberry.field(description="Kind of object acted on.")
    target_id: str | None = strawberry.field(description="Id of the object acted on.")
    result: str = strawberry.field(description="OK, DENIED or FAILED.")
    request_id: str | None = strawberry.field(description="The request id, to find the matching log lines.")
    client_address: str | None = strawberry.field(description="Network address the request came from.")

    @classmethod
    def from_row(cls, row: AuditRow) -> AuditEntry:
        return cls(
            id=strawberry.ID(str(row.id)),
            occurred_at=row.occurred_at,
            actor_kind=row.actor_kind,
            actor_id=row.actor_id,
            action=row.action,
            target_type=row.target_type,
            target_id=row.target_id,
            result=row.result,
            request_id=row.request_id,
            client_address=row.client_address,
        )


class ProblemReason(StrEnum):
    INVALID = "INVALID"
    DUPLICATE = "DUPLICATE"
    LIMIT_REACHED = "LIMIT_REACHED"
    NOT_CURRENT = "NOT_CURRENT"
    GUARDIAN_REQUIRED = "GUARDIAN_REQUIRED"
    WRONG_STATE = "WRONG_STATE"
    BLOCKED_WORDS = "BLOCKED_WORDS"
    NOT_COMPLETED = "NOT_COMPLETED"
    LOW_CONTRAST = "LOW_CONTRAST"


strawberry.enum(
    ProblemReason,
    description="Why input was refused: INVALID (wrong format or impossible value), DUPLICATE (the same person "
    "already has a profile), LIMIT_REACHED (10 profiles per account), NOT_CURRENT (an outdated consent "
    "version), GUARDIAN_REQUIRED (a profile under 14 needs a guardian's consent), WRONG_STATE (not possible "
    "in the object's current state, e.g. publishing an article already shown), BLOCKED_WORDS (the text contains "
    "words the moderation filter refuses), NOT_COMPLETED (the consult is not completed yet), LOW_CONTRAST "
    "(a text colour and its background have a contrast below 4.5:1).",
)


@strawberry.type(description="The input was refused; nothing was changed.")
class ValidationFailed:
    message: str = strawberry.field(description="What is wrong, in plain Chinese and English.")
    field: str | None = strawberry.field(description="The input field at fault (camelCase), if one is.")
    reason: ProblemReason = strawberry.field(description="Why, machine-readable.")
    detail: str | None = strawberry.field(description="A finer reason, e.g. BAD_CHECKSUM for an ID number.")
    code: ErrorCode = strawberry.field(default=ErrorCode.BAD_USER_INPUT, description="Always BAD_USER_INPUT.")


@strawberry.type(description="No object of that kind has the given id; nothing was changed.")
class NotFound:
    message: str = strawberry.field(description="What was not found, in plain Chinese and English.")
    type_name: str = strawberry.field(description="The kind of object looked for, e.g. Article, Department.")
    id: strawberry.ID = strawberry.field(description="The id that was given.")
    code: ErrorCode = strawberry.field(default=ErrorCode.NOT_FOUND, description="Always NOT_FOUND.")


def not_found(type_name: str, id: int | str, label: str) -> NotFound:
    return NotFound(
        message=f"{label}不存在 ({type_name} {id} not found)", type_name=type_name, id=strawberry.ID(str(id))
    )
