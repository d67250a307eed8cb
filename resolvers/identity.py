"""Sign-in (patients through WeChat, staff with password + TOTP), profiles, consents, audit log."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from datasources.db import audit as audit_store
from datasources.db.tables import PatientAccount as AccountRow
from datasources.identity import profiles as store
from datasources.identity import staff_accounts
from datasources.identity.demo_patients import DEMO_PATIENTS, demo_account
from datasources.identity.profiles import ProfileData
from datasources.identity.tokens import SessionKind
from datasources.wechat import WeChatLoginError
from domain.audit import ActorKind, AuditResult
from domain.enums import ConsentKind, ProfileRelation
from domain.identity import Gender, InvalidMobile, InvalidResidentId
from resolvers.auditing import audit_denial, write_audit
from schema.common import Connection, check_first, decode_cursor, parse_id, to_connection
from schema.context import Info
from schema.errors import BadInput, ClientError, ErrorCode
from schema.identity import (
    AuditEntry,
    ConsentDocument,
    PatientAccount,
    PatientProfile,
    PatientSession,
    ProblemReason,
    StaffAccount,
    StaffSession,
    ValidationFailed,
)
from schema.permissions import forbidden

AUDIT_CURSOR = "audit"


# ---- inputs and results -------------------------------------------------------------------


@strawberry.input(description="A patient profile (就诊人) as entered in the mini-program.")
class ProfileInput:
    name: str = strawberry.field(description="Full name, 1 to 32 characters.")
    id_number: str = strawberry.field(description="18-character resident ID number (居民身份证号码).")
    mobile: str = strawberry.field(description="Mainland mobile number; +86, spaces and hyphens are allowed.")
    relation: ProfileRelation = strawberry.field(description="Relation to the account holder.")
    gender: Gender | None = strawberry.field(default=None, description="If given, must match the ID number.")
    birth_date: date | None = strawberry.field(default=None, description="If given, must match the ID number.")
    his_patient_id: str | None = strawberry.field(default=None, description="The patient's id in the HIS, if known.")

    def to_data(self) -> ProfileData:
        return ProfileData(
            name=self.name,
            id_number=self.id_number,
            mobile=self.mobile,
            relation=self.relation,
            gender=self.gender,
            birth_date=self.birth_date,
            his_patient_id=self.his_patient_id,
        )


@strawberry.type(description="The profile was saved.")
class ProfileSuccess:
    profile: PatientProfile = strawberry.field(description="The profile as stored (numbers masked).")
    account: PatientAccount = strawberry.field(description="The account, with all its profiles.")


@strawberry.type(description="The profile was removed, with its consents.")
class RemoveProfileSuccess:
    removed_profile_id: strawberry.ID = strawberry.field(description="Id of the removed profile.")
    account: PatientAccount = strawberry.field(description="The account, with its remaining profiles.")


ProfileResult = Annotated[
    ProfileSuccess | ValidationFailed,
    strawberry.union("ProfileResult", description="The saved profile, or why the input was refused."),
]
RemoveProfileResult = Annotated[
    RemoveProfileSuccess | ValidationFailed,
    strawberry.union("RemoveProfileResult", description="The removal, or why it was refused."),
]


def _invalid(message: str, field: str | None, reason: ProblemReason, detail: str | None = None) -> ValidationFailed:
    return ValidationFailed(message=message, field=field, reason=reason, detail=detail)


def _today(info: Info) -> date:
    return info.context.now.astimezone(info.context.settings.zone).date()


async def _account(db: AsyncSession, account_id: int) -> AccountRow:
    return await db.get_one(AccountRow, account_id)


def _success(info: Info, row: store.PatientProfile, account: AccountRow) -> ProfileSuccess:
    return ProfileSuccess(
        profile=PatientProfile.from_row(row, default_id=account.default_profile_id, today=_today(info)),
        account=PatientAccount.from_row(account),
    )


def _patient_id(info: Info) -> int:
    account_id = info.context.viewer.account_id
    assert account_id is not None, "guarded by IsPatient"
    return account_id


async def _denied(info: Info, action: str, profile_id: int | str) -> ClientError:
    # The same answer whether the profile belongs to someone else or does not exist at all.
    await audit_denial(info, action=action, target_type="PatientProfile", target_id=profile_id)
    return forbidden()


# ---- patient sign-in ---------------------------------------------------------------------


async def _open_patient_session(info: Info, db: AsyncSession, account: AccountRow, action: str) -> PatientSession:
    settings = info.context.settings
    token, claims = await info.context.tokens.issue(
        kind=SessionKind.PATIENT,
        account_id=account.id,
        now=info.context.now,
        lifetime=timedelta(hours=settings.patient_session_hours),
    )
    await write_audit(
        info,
        db,
        action=action,
        result=AuditResult.OK,
        target_type="PatientAccount",
        target_id=account.id,
        actor_kind=ActorKind.PATIENT,
        actor_id=account.id,
    )
    return PatientSession(token=token, expires_at=claims.expires_at, account=PatientAccount.from_row(account))


async def login(
    info: Info, code: Annotated[str, strawberry.argument(description="The code from `wx.login()`, used once.")]
) -> PatientSession:
    try:
        wechat = await info.context.wechat.code_to_session(code)
    except WeChatLoginError as error:
        raise ClientError(
            "微信登录失败，请重新进入小程序 (WeChat sign-in failed; open the mini-program again)",
            ErrorCode.UNAUTHENTICATED,
            wechatErrcode=error.errcode,
        ) from None
    # The WeChat session_key stays here: it is neither stored, returned nor logged.
    async with info.context.db() as db, db.begin():
        account = await store.get_or_create_account(
            db, openid=wechat.openid, unionid=wechat.unionid, now=info.context.now
        )
        return await _open_patient_session(info, db, account, "patient.login")


async def dev_login(
    info: Info,
    demo_patient: Annotated[int, strawberry.argument(description=f"Which demo patient, 1 to {DEMO_PATIENTS}.")],
) -> PatientSession:
    if not 1 <= demo_patient <= DEMO_PATIENTS:
        raise BadInput(f"`demoPatient` must be between 1 and {DEMO_PATIENTS}.", argument="demoPatient")
    async with info.context.db() as db, db.begin():
        account = await demo_account(db, number=demo_patient, cipher=info.context.cipher, now=info.context.now)
        return await _open_patient_session(info, db, account, "patient.dev_login")


async def logout(info: Info) -> bool:
    claims = info.context.viewer.claims
    assert claims is not None, "guarded by IsSignedIn"
    await info.context.tokens.revoke(claims, now=info.context.now)
    return True


# ---- staff sign-in ---------------------------------------------------------------------


async def staff_login(
    info: Info,
    username: Annotated[str, strawberry.argument(description="Login name.")],
    password: Annotated[str, strawberry.argument(description="Password.")],
    totp_code: Annotated[str, strawberry.argument(description="The 6-digit code of the authenticator app.")],
) -> StaffSession:
    settings = info.context.settings
    async with info.context.db() as db, db.begin():
        try:
            account = await staff_accounts.authenticate(
                db,
                username=username,
                password=password,
                totp_code=totp_code,
                cipher=info.context.cipher,
                now=info.context.now,
                max_failures=settings.staff_max_failed_logins,
                lockout=timedelta(minutes=settings.staff_lockout_minutes),
            )
        except staff_accounts.StaffLoginFailed as failure:
            # Committed with the failure count: the lock-out must survive the refused request.
            await write_audit(
                info,
                db,
                action=f"staff.login.{failure.problem.value.lower()}",
                result=AuditResult.DENIED,
                target_type="StaffAccount",
                target_id=failure.account_id,
                actor_kind=ActorKind.STAFF,
                actor_id=failure.account_id,
            )
            refused = True
        else:
            refused = False
            token, claims = await info.context.tokens.issue(
                kind=SessionKind.STAFF,
                account_id=account.id,
                now=info.context.now,
                lifetime=timedelta(hours=settings.staff_session_absolute_hours),
                idle=timedelta(minutes=settings.staff_session_idle_minutes),
            )
            await write_audit(
                info,
                db,
                action="staff.login",
                result=AuditResult.OK,
                target_type="StaffAccount",
                target_id=account.id,
                actor_kind=ActorKind.STAFF,
                actor_id=account.id,
            )
            session = StaffSession(
                token=token,
                expires_at=claims.expires_at,
                idle_timeout_minutes=settings.staff_session_idle_minutes,
                account=StaffAccount.from_row(account),
            )
    if refused:
        raise ClientError(
            "用户名、密码或动态码不正确，或账号已被暂时锁定 (wrong username, password or code, or the account "
            "is locked for a while)",
            ErrorCode.UNAUTHENTICATED,
        )
    return session


async def staff_me(info: Info) -> StaffAccount:
    account_id = info.context.viewer.account_id
    assert account_id is not None, "guarded by the staff permission"
    async with info.context.db() as db:
        rows = await staff_accounts.staff_accounts_by_ids(db, ids=[account_id])
    return StaffAccount.from_row(rows[account_id])


# ---- profiles and consents ---------------------------------------------------------------


async def me(info: Info) -> PatientAccount:
    async with info.context.db() as db:
        return PatientAccount.from_row(await _account(db, _patient_id(info)))


async def profile(
    info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Id of the profile.")]
) -> PatientProfile:
    profile_id = parse_id(id)
    async with info.context.db() as db:
        try:
            row = await store.get_profile(db, account_id=_patient_id(info), profile_id=profile_id)
        except store.ProfileNotFound:
            raise await _denied(info, "profile.read", profile_id) from None
        account = await _account(db, row.account_id)
    return PatientProfile.from_row(row, default_id=account.default_profile_id, today=_today(info))


async def consent_document(
    info: Info,
    kind: Annotated[ConsentKind, strawberry.argument(description="Which consent.")] = ConsentKind.HEALTH_DATA,
) -> ConsentDocument | None:
    async with info.context.db() as db:
        row = await store.current_consent_document(db, kind=kind, now=info.context.now)
    return None if row is None else ConsentDocument.from_row(row)


def _validated(info: Info, data: ProfileInput) -> store.ValidProfile | ValidationFailed:
    try:
        return store.validate_profile(data.to_data(), today=_today(info))
    except InvalidResidentId as error:
        field = {"INCONSISTENT_BIRTH_DATE": "birthDate", "INCONSISTENT_GENDER": "gender"}.get(
            error.reason.value, "idNumber"
        )
        return _invalid(str(error), field, ProblemReason.INVALID, error.reason.value)
    except InvalidMobile as error:
        return _invalid(str(error), "mobile", ProblemReason.INVALID)
    except ValueError as error:
        return _invalid(str(error), "name", ProblemReason.INVALID)


_DUPLICATE = "该就诊人已存在 (this person already has a profile in your account)"


async def add_profile(
    info: Info, input: Annotated[ProfileInput, strawberry.argument(description="The new profile.")]
) -> ProfileResult:
    valid = _validated(info, input)
    if isinstance(valid, ValidationFailed):
        return valid
    account_id = _patient_id(info)
    async with info.context.db() as db, db.begin():
        try:
            row = await store.add_profile(
                db, account_id=account_id, profile=valid, cipher=info.context.cipher, now=info.context.now
            )
        except store.ProfileLimitReached:
            return _invalid(
                "每个账号最多管理10位就诊人 (at most 10 profiles per account)", None, ProblemReason.LIMIT_REACHED
            )
        except store.DuplicateProfile:
            return _invalid(_DUPLICATE, "idNumber", ProblemReason.DUPLICATE)
        await write_audit(
            info, db, action="profile.add", result=AuditResult.OK, target_type="PatientProfile", target_id=row.id
        )
        return _success(info, row, await _account(db, account_id))


async def update_profile(
    info: Info,
    id: Annotated[strawberry.ID, strawberry.argument(description="Id of the profile to change.")],
    input: Annotated[ProfileInput, strawberry.argument(description="The profile's new values (all of them).")],
) -> ProfileResult:
    profile_id = parse_id(id)
    account_id = _patient_id(info)
    valid = _validated(info, input)
    async with info.context.db() as db, db.begin():
        try:
            # Ownership is checked before input errors are reported, so they reveal nothing.
            current = await store.get_profile(db, account_id=account_id, profile_id=profile_id)
        except store.ProfileNotFound:
            raise await _denied(info, "profile.update", profile_id) from None
        if isinstance(valid, ValidationFailed):
            return valid
        person_before, patient_before = current.id_number_digest, current.his_patient_id
        try:
            row = await store.update_profile(
                db,
                account_id=account_id,
                profile_id=profile_id,
                profile=valid,
                cipher=info.context.cipher,
                now=info.context.now,
            )
        except store.DuplicateProfile:
            return _invalid(_DUPLICATE, "idNumber", ProblemReason.DUPLICATE)
        await write_audit(
            info, db, action="profile.update", result=AuditResult.OK, target_type="PatientProfile", target_id=row.id
        )
        # Another person (whose consents were withdrawn with the change), or another HIS patient linked:
        # what is cached of the previous patient is not this profile's to keep.
        changed = row.id_number_digest != person_before or row.his_patient_id != patient_before
        result = _success(info, row, await _account(db, account_id))
    await _erase_health_data(info, patient_before if changed else None)
    return result


async def remove_profile(
    info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Id of the profile to remove.")]
) -> RemoveProfileResult:
    profile_id = parse_id(id)
    account_id = _patient_id(info)
    async with info.context.db() as db, db.begin():
        try:
            his_patient_id = await store.remove_profile(db, account_id=account_id, profile_id=profile_id)
        except store.ProfileNotFound:
            raise await _denied(info, "profile.remove", profile_id) from None
        await write_audit(
            info, db, action="profile.remove", result=AuditResult.OK, target_type="PatientProfile", target_id=profile_id
        )
        account = await _account(db, account_id)
        result = RemoveProfileSuccess(
            removed_profile_id=strawberry.ID(str(profile_id)), account=PatientAccount.from_row(account)
        )
    await _erase_health_data(info, his_patient_id)
    return result


async def set_default_profile(
    info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Id of the profile to make default.")]
) -> ProfileResult:
    profile_id = parse_id(id)
    account_id = _patient_id(info)
    async with info.context.db() as db, db.begin():
        try:
            row = await store.set_default_profile(db, account_id=account_id, profile_id=profile_id)
        except store.ProfileNotFound:
            raise await _denied(info, "profile.set_default", profile_id) from None
        return _success(info, row, await _account(db, account_id))


async def give_health_data_consent(
    info: Info,
    profile_id: Annotated[strawberry.ID, strawberry.argument(description="The profile the consent is for.")],
    version: Annotated[str, strawberry.argument(description="The version of the consent text that was shown.")],
    guardian_name: Annotated[
        str | None, strawberry.argument(description="The guardian giving consent; required under 14.")
    ] = None,
) -> ProfileResult:
    pid = parse_id(profile_id, "profileId")
    account_id = _patient_id(info)
    async with info.context.db() as db, db.begin():
        try:
            await store.give_consent(
                db,
                account_id=account_id,
                profile_id=pid,
                version=version,
                guardian_name=guardian_name,
                now=info.context.now,
            )
        except store.ProfileNotFound:
            raise await _denied(info, "consent.give", pid) from None
        except store.ConsentVersionNotCurrent as current:
            return _invalid(
                f"同意书已更新，请阅读最新版本 (the consent text has changed; current version {current.args[0]})",
                "version",
                ProblemReason.NOT_CURRENT,
            )
        except store.GuardianConsentRequired:
            return _invalid(
                "未满14周岁的就诊人须由监护人同意 (a profile under 14 needs a guardian's consent)",
                "guardianName",
                ProblemReason.GUARDIAN_REQUIRED,
            )
        await write_audit(
            info, db, action="consent.give", result=AuditResult.OK, target_type="PatientProfile", target_id=pid
        )
        row = await store.get_profile(db, account_id=account_id, profile_id=pid)
        return _success(info, row, await _account(db, account_id))


async def withdraw_health_data_consent(
    info: Info, profile_id: Annotated[strawberry.ID, strawberry.argument(description="The profile concerned.")]
) -> ProfileResult:
    pid = parse_id(profile_id, "profileId")
    account_id = _patient_id(info)
    async with info.context.db() as db, db.begin():
        try:
            row = await store.withdraw_consent(db, account_id=account_id, profile_id=pid, now=info.context.now)
        except store.ProfileNotFound:
            raise await _denied(info, "consent.withdraw", pid) from None
        await write_audit(
            info, db, action="consent.withdraw", result=AuditResult.OK, target_type="PatientProfile", target_id=pid
        )
        his_patient_id = row.his_patient_id
        result = _success(info, row, await _account(db, account_id))
    await _erase_health_data(info, his_patient_id)
    return result


async def _erase_health_data(info: Info, his_patient_id: str | None) -> None:
    """After the change is committed: what is cached of the patient's health data goes too (PIPL
    art. 47). Should the shared cache be unreachable, its entries end with their time-to-live."""
    if his_patient_id:
        await info.context.his.erase(his_patient_id)


# ---- audit log -------------------------------------------------------------------------


async def audit_log(
    info: Info,
    first: Annotated[int, strawberry.argument(description="Page size, 1 to 50.")] = 50,
    after: Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")] = None,
    action: Annotated[str | None, strawberry.argument(description="Only this action, e.g. staff.login.")] = None,
) -> Connection[AuditEntry]:
    check_first(first, info.context.settings.page_size_max)
    async with info.context.db() as db:
        page = await audit_store.list_entries(db, first=first, after=decode_cursor(AUDIT_CURSOR, after), action=action)
    return to_connection(page, kind=AUDIT_CURSOR, key=lambda row: row.id, convert=AuditEntry.from_row)
