"""Staff accounts: creation, and login with password (argon2) + TOTP, with lock-out.

Every failure answers the same way, so a caller cannot tell a wrong username from a wrong password,
a wrong code or a locked account; the audit log records which it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from datasources.db.tables import StaffAccount
from datasources.identity.field_crypto import FieldCipher
from domain.enums import AdminRole

_HASHER = PasswordHasher()
# Verified against when the username is unknown, so both paths cost one argon2 verification.
_DUMMY_HASH = _HASHER.hash("not a real password, only for timing")
TOTP_CONTEXT = "staff.totp_secret"
MIN_PASSWORD_LENGTH = 12


class LoginProblem(StrEnum):
    UNKNOWN_USER = "UNKNOWN_USER"
    WRONG_PASSWORD = "WRONG_PASSWORD"
    WRONG_CODE = "WRONG_CODE"
    LOCKED = "LOCKED"
    INACTIVE = "INACTIVE"


class StaffLoginFailed(Exception):
    def __init__(self, problem: LoginProblem, account_id: int | None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.account_id = account_id


class WeakPassword(ValueError):
    pass


class UsernameTaken(ValueError):
    pass


@dataclass(frozen=True)
class NewStaffAccount:
    account: StaffAccount
    totp_uri: str  # shown once to the new user to enrol an authenticator app; never stored in clear


def check_password_policy(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if username.lower() in password.lower():
        raise WeakPassword("password must not contain the username")
    if len(set(password)) < 6:
        raise WeakPassword("password must use at least 6 different characters")


async def create_staff_account(
    db: AsyncSession,
    *,
    username: str,
    password: str,
    roles: Sequence[AdminRole],
    cipher: FieldCipher,
    now: datetime,
    display_name: str = "",
    staff_id: int | None = None,
) -> NewStaffAccount:
    check_password_policy(password, username)
    if await db.scalar(select(StaffAccount.id).where(StaffAccount.username == username)) is not None:
        raise UsernameTaken(username)
    secret = pyotp.random_base32()
    account = StaffAccount(
        username=username,
        display_name=display_name,
        password_hash=_HASHER.hash(password),
        totp_secret_cipher=cipher.encrypt(secret, context=TOTP_CONTEXT),
        roles=sorted(role.value for role in roles),
        staff_id=staff_id,
        active=True,
        failed_logins=0,
        created_at=now,
    )
    db.add(account)
    await db.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="hospital-bff")
    return NewStaffAccount(account=account, totp_uri=uri)


async def authenticate(
    db: AsyncSession,
    *,
    username: str,
    password: str,
    totp_code: str,
    cipher: FieldCipher,
    now: datetime,
    max_failures: int,
    lockout: timedelta,
) -> StaffAccount:
    """The account when all three factors are right; otherwise StaffLoginFailed, with the failure
    counted (the caller commits even on failure, so the count survives)."""
    account = await db.scalar(select(StaffAccount).where(StaffAccount.username == username).with_for_update())
    if account is None:
        _verify(_DUMMY_HASH, password)
        raise StaffLoginFailed(LoginProblem.UNKNOWN_USER, None)
    if not account.active:
        raise StaffLoginFailed(LoginProblem.INACTIVE, account.id)
    if account.locked_until is not None and account.locked_until > now:
        raise StaffLoginFailed(LoginProblem.LOCKED, account.id)
    if not _verify(account.password_hash, password):
        _count_failure(account, now, max_failures, lockout)
        raise StaffLoginFailed(LoginProblem.WRONG_PASSWORD, account.id)
    step = _matching_totp_step(cipher.decrypt(account.totp_secret_cipher, context=TOTP_CONTEXT), totp_code, now)
    if step is None or (account.last_totp_step is not None and step <= account.last_totp_step):
        _count_failure(account, now, max_failures, lockout)
        raise StaffLoginFailed(LoginProblem.WRONG_CODE, account.id)
    account.last_totp_step = step
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    if _HASHER.check_needs_rehash(account.password_hash):
        account.password_hash = _HASHER.hash(password)
    return account


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _matching_totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The 30-second step the code belongs to, allowing one step of clock drift either way."""
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // totp.interval
    for step in (current - 1, current, current + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def _count_failure(account: StaffAccount, now: datetime, max_failures: int, lockout: timedelta) -> None:
    account.failed_logins += 1
    if account.failed_logins >= max_failures:
        account.locked_until = now + lockout
        account.failed_logins = 0


async def staff_accounts_by_ids(db: AsyncSession, *, ids: Sequence[int]) -> dict[int, StaffAccount]:
    rows = await db.scalars(select(StaffAccount).where(StaffAccount.id.in_(ids)))
    return {row.id: row for row in rows}
