"""Patient accounts, their profiles (就诊人) and the profiles' consents.

Every function takes the account id and only ever touches that account's rows: a profile of
another account is indistinguishable from one that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from datasources.db.tables import ConsentDocument, PatientAccount, PatientProfile, ProfileConsent
from datasources.identity.field_crypto import FieldCipher
from domain.enums import ConsentGiver, ConsentKind, ProfileRelation
from domain.identity import (
    Gender,
    ResidentId,
    check_consistent,
    is_minor_under_14,
    mask_mobile,
    mask_resident_id,
    validate_mobile,
    validate_resident_id,
)

MAX_PROFILES_PER_ACCOUNT = 10
ID_CONTEXT = "profile.id_number"
MOBILE_CONTEXT = "profile.mobile"


class ProfileNotFound(LookupError):
    pass


class ProfileLimitReached(ValueError):
    pass


class DuplicateProfile(ValueError):
    pass


class ConsentVersionNotCurrent(ValueError):
    pass


class GuardianConsentRequired(ValueError):
    pass


@dataclass(frozen=True)
class ProfileData:
    """What a patient enters for a profile; validated before anything is written."""

    name: str
    id_number: str
    mobile: str
    relation: ProfileRelation
    gender: Gender | None = None
    birth_date: date | None = None
    his_patient_id: str | None = None


@dataclass(frozen=True)
class ValidProfile:
    name: str
    resident_id: ResidentId
    mobile: str
    relation: ProfileRelation
    his_patient_id: str | None


def validate_profile(data: ProfileData, *, today: date) -> ValidProfile:
    """Raises InvalidResidentId, InvalidMobile or ValueError (name) with messages free of the numbers."""
    name = data.name.strip()
    if not 1 <= len(name) <= 32:
        raise ValueError("姓名应为1到32个字 (name must have 1 to 32 characters)")
    resident_id = validate_resident_id(data.id_number, today=today)
    check_consistent(resident_id, birth_date=data.birth_date, gender=data.gender)
    return ValidProfile(
        name=name,
        resident_id=resident_id,
        mobile=validate_mobile(data.mobile),
        relation=data.relation,
        his_patient_id=(data.his_patient_id or "").strip() or None,
    )


async def get_or_create_account(db: AsyncSession, *, openid: str, unionid: str | None, now: datetime) -> PatientAccount:
    account = await db.scalar(select(PatientAccount).where(PatientAccount.openid == openid))
    if account is None:
        account = PatientAccount(openid=openid, unionid=unionid, created_at=now)
        db.add(account)
    account.last_login_at = now
    await db.flush()
    return account


async def list_profiles(db: AsyncSession, *, account_id: int) -> Sequence[PatientProfile]:
    rows = await db.scalars(
        select(PatientProfile).where(PatientProfile.account_id == account_id).order_by(PatientProfile.id)
    )
    return rows.all()


async def get_profile(db: AsyncSession, *, account_id: int, profile_id: int) -> PatientProfile:
    profile = await db.scalar(
        select(PatientProfile).where(PatientProfile.id == profile_id, PatientProfile.account_id == account_id)
    )
    if profile is None:
        raise ProfileNotFound(profile_id)
    return profile


def consent_granted(consents: Sequence[ProfileConsent]) -> bool:
    """Given a profile's consents newest first: granted while the latest one is not withdrawn."""
    return bool(consents) and consents[0].withdrawn_at is None


# Built once: constructing the statement cost more than running it (it is on every health-data read).
_PROFILE_WITH_CONSENTS = (
    select(PatientProfile, ProfileConsent)
    .outerjoin(ProfileConsent, ProfileConsent.profile_id == PatientProfile.id)
    .where(PatientProfile.id == bindparam("profile_id"), PatientProfile.account_id == bindparam("account_id"))
    .order_by(ProfileConsent.accepted_at.desc())
)


async def profile_with_consents(
    db: AsyncSession, *, account_id: int, profile_id: int
) -> tuple[PatientProfile, list[ProfileConsent]]:
    """The account's profile and its consents, newest first, in one statement: every read of health
    data starts with both."""
    rows = (await db.execute(_PROFILE_WITH_CONSENTS, {"profile_id": profile_id, "account_id": account_id})).all()
    if not rows:
        raise ProfileNotFound(profile_id)
    return rows[0][0], [consent for _, consent in rows if consent is not None]


async def add_profile(
    db: AsyncSession, *, account_id: int, profile: ValidProfile, cipher: FieldCipher, now: datetime
) -> PatientProfile:
    count = await db.scalar(select(func.count()).where(PatientProfile.account_id == account_id))
    if (count or 0) >= MAX_PROFILES_PER_ACCOUNT:
        raise ProfileLimitReached(MAX_PROFILES_PER_ACCOUNT)
    digest = cipher.digest(profile.resident_id.number, context=ID_CONTEXT)
    await _refuse_duplicate(db, account_id=account_id, digest=digest, except_id=None)
    row = PatientProfile(account_id=account_id, created_at=now)
    _apply(row, profile, cipher, now)
    db.add(row)
    await db.flush()
    account = await db.get_one(PatientAccount, account_id)
    if account.default_profile_id is None:
        account.default_profile_id = row.id
    return row


async def update_profile(
    db: AsyncSession, *, account_id: int, profile_id: int, profile: ValidProfile, cipher: FieldCipher, now: datetime
) -> PatientProfile:
    row = await get_profile(db, account_id=account_id, profile_id=profile_id)
    digest = cipher.digest(profile.resident_id.number, context=ID_CONTEXT)
    # Checked before the row changes: a refused update must leave nothing to flush.
    await _refuse_duplicate(db, account_id=account_id, digest=digest, except_id=row.id)
    person_changed = digest != row.id_number_digest
    _apply(row, profile, cipher, now)
    if person_changed:
        # A different person: consents given for the previous one do not carry over.
        await db.execute(
            update(ProfileConsent)
            .where(ProfileConsent.profile_id == row.id, ProfileConsent.withdrawn_at.is_(None))
            .values(withdrawn_at=now)
        )
    await db.flush()
    return row


async def remove_profile(db: AsyncSession, *, account_id: int, profile_id: int) -> str | None:
    """Remove the profile and its consents; the HIS patient id it was linked to, if any."""
    row = await get_profile(db, account_id=account_id, profile_id=profile_id)
    his_patient_id = row.his_patient_id
    await db.execute(delete(ProfileConsent).where(ProfileConsent.profile_id == row.id))
    await db.delete(row)
    await db.flush()
    account = await db.get_one(PatientAccount, account_id)
    if account.default_profile_id == profile_id:
        account.default_profile_id = await db.scalar(
            select(func.min(PatientProfile.id)).where(PatientProfile.account_id == account_id)
        )
    return his_patient_id


async def set_default_profile(db: AsyncSession, *, account_id: int, profile_id: int) -> PatientProfile:
    row = await get_profile(db, account_id=account_id, profile_id=profile_id)
    account = await db.get_one(PatientAccount, account_id)
    account.default_profile_id = row.id
    return row


async def current_consent_document(db: AsyncSession, *, kind: ConsentKind, now: datetime) -> ConsentDocument | None:
    return await db.scalar(
        select(ConsentDocument)
        .where(ConsentDocument.kind == kind, ConsentDocument.effective_at <= now)
        .order_by(ConsentDocument.effective_at.desc(), ConsentDocument.id.desc())
        .limit(1)
    )


async def give_consent(
    db: AsyncSession,
    *,
    account_id: int,
    profile_id: int,
    version: str,
    guardian_name: str | None,
    now: datetime,
) -> ProfileConsent:
    """Record acceptance of the current health-data consent; under 14 only a guardian may give it."""
    row = await get_profile(db, account_id=account_id, profile_id=profile_id)
    document = await current_consent_document(db, kind=ConsentKind.HEALTH_DATA, now=now)
    if document is None or document.version != version:
        raise ConsentVersionNotCurrent(document.version if document else None)
    guardian = (guardian_name or "").strip() or None
    if is_minor_under_14(row.birth_date, now.date()) and guardian is None:
        raise GuardianConsentRequired()
    await _withdraw(db, profile_id=row.id, now=now)
    consent = ProfileConsent(
        profile_id=row.id,
        kind=ConsentKind.HEALTH_DATA,
        version=version,
        given_by=ConsentGiver.GUARDIAN if guardian else ConsentGiver.SELF,
        guardian_name=guardian,
        accepted_at=now,
    )
    db.add(consent)
    await db.flush()
    return consent


async def withdraw_consent(db: AsyncSession, *, account_id: int, profile_id: int, now: datetime) -> PatientProfile:
    row = await get_profile(db, account_id=account_id, profile_id=profile_id)
    await _withdraw(db, profile_id=row.id, now=now)
    return row


async def consents_by_profile_ids(db: AsyncSession, *, ids: Sequence[int]) -> dict[int, list[ProfileConsent]]:
    rows = await db.scalars(
        select(ProfileConsent).where(ProfileConsent.profile_id.in_(ids)).order_by(ProfileConsent.accepted_at.desc())
    )
    grouped: dict[int, list[ProfileConsent]] = {i: [] for i in ids}
    for row in rows:
        grouped[row.profile_id].append(row)
    return grouped


async def _withdraw(db: AsyncSession, *, profile_id: int, now: datetime) -> None:
    await db.execute(
        update(ProfileConsent)
        .where(ProfileConsent.profile_id == profile_id, ProfileConsent.withdrawn_at.is_(None))
        .values(withdrawn_at=now)
    )


async def _refuse_duplicate(db: AsyncSession, *, account_id: int, digest: str, except_id: int | None) -> None:
    query = select(PatientProfile.id).where(
        PatientProfile.account_id == account_id, PatientProfile.id_number_digest == digest
    )
    if except_id is not None:
        query = query.where(PatientProfile.id != except_id)
    if await db.scalar(query) is not None:
        raise DuplicateProfile()


def _apply(row: PatientProfile, profile: ValidProfile, cipher: FieldCipher, now: datetime) -> None:
    number = profile.resident_id.number
    row.name = profile.name
    row.gender = profile.resident_id.gender
    row.birth_date = profile.resident_id.birth_date
    row.relation = profile.relation
    row.id_number_cipher = cipher.encrypt(number, context=ID_CONTEXT)
    row.id_number_digest = cipher.digest(number, context=ID_CONTEXT)
    row.id_number_masked = mask_resident_id(number)
    row.mobile_cipher = cipher.encrypt(profile.mobile, context=MOBILE_CONTEXT)
    row.mobile_masked = mask_mobile(profile.mobile)
    row.his_patient_id = profile.his_patient_id
    row.updated_at = now
