"""Demo patients for `devLogin` (ENV=dev only): each gets two profiles on first sign-in."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from datasources.db.tables import PatientAccount
from datasources.identity.field_crypto import FieldCipher
from datasources.identity.profiles import ProfileData, add_profile, get_or_create_account, validate_profile
from domain.enums import ProfileRelation

DEMO_PATIENTS = 3
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _with_check_digit(body: str) -> str:
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]


def _profiles(n: int) -> list[ProfileData]:
    # Synthetic numbers: valid in form, belonging to nobody.
    return [
        ProfileData(
            name=["张明", "李华", "王芳"][n - 1],
            id_number=_with_check_digit(f"110105{1985 + n}0{n}1{n}00{n}"),
            mobile=f"1380000{n:04d}",
            relation=ProfileRelation.SELF,
            his_patient_id=f"P{100000 + n * 10}",
        ),
        ProfileData(
            name=["张建国", "李秀英", "王德胜"][n - 1],
            id_number=_with_check_digit(f"110105{1950 + n}1{n - 1}0{n}00{n + 2}"),
            mobile=f"1390000{n:04d}",
            relation=ProfileRelation.PARENT,
            his_patient_id=f"P{100000 + n * 10 + 1}",
        ),
    ]


def demo_profiles(number: int) -> list[ProfileData]:
    """The two profiles of demo patient `number`; the embedded HIS simulator holds the same people."""
    return _profiles(number)


async def demo_account(db: AsyncSession, *, number: int, cipher: FieldCipher, now: datetime) -> PatientAccount:
    account = await get_or_create_account(db, openid=f"demo-patient-{number}", unionid=None, now=now)
    if account.default_profile_id is None:
        for data in _profiles(number):
            valid = validate_profile(data, today=date(now.year, now.month, now.day))
            await add_profile(db, account_id=account.id, profile=valid, cipher=cipher, now=now)
    return account
