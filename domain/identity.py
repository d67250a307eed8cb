"""Rules for a patient's identity data: resident ID and mobile numbers, masking, age.

Under PIPL these are personal information (the ID number sensitive personal information), so no
error message here ever quotes the value it rejects: messages end up in logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Gender(StrEnum):
    MALE = "MALE"  # 男
    FEMALE = "FEMALE"  # 女


class ResidentIdProblem(StrEnum):
    # validate_resident_id checks in this order and reports the first problem found.
    WRONG_LENGTH = "WRONG_LENGTH"
    LEGACY_15_DIGIT = "LEGACY_15_DIGIT"
    BAD_CHARACTERS = "BAD_CHARACTERS"
    BAD_REGION = "BAD_REGION"
    BAD_BIRTH_DATE = "BAD_BIRTH_DATE"
    FUTURE_BIRTH_DATE = "FUTURE_BIRTH_DATE"
    BAD_CHECKSUM = "BAD_CHECKSUM"
    # check_consistent
    INCONSISTENT_BIRTH_DATE = "INCONSISTENT_BIRTH_DATE"
    INCONSISTENT_GENDER = "INCONSISTENT_GENDER"


_MESSAGES: dict[ResidentIdProblem, str] = {
    ResidentIdProblem.WRONG_LENGTH: "身份证号码应为18位。 The ID number must be 18 characters long.",
    ResidentIdProblem.LEGACY_15_DIGIT: (
        "不支持15位旧版身份证号码，请填写18位身份证号码。"
        " Old 15-digit ID numbers are not accepted; please enter the 18-digit ID number."
    ),
    ResidentIdProblem.BAD_CHARACTERS: (
        "身份证号码前17位应为数字，最后一位为数字或X。"
        " The first 17 characters of the ID number must be digits and the last a digit or X."
    ),
    ResidentIdProblem.BAD_REGION: (
        "身份证号码前6位（地区码）不正确。 The region code (the first 6 digits) of the ID number is not valid."
    ),
    ResidentIdProblem.BAD_BIRTH_DATE: (
        "身份证号码中的出生日期不正确。 The date of birth in the ID number is not a valid date."
    ),
    ResidentIdProblem.FUTURE_BIRTH_DATE: (
        "身份证号码中的出生日期晚于今天。 The date of birth in the ID number is after today."
    ),
    ResidentIdProblem.BAD_CHECKSUM: (
        "身份证号码有误（校验位不符），请核对后重新填写。"
        " The ID number is not valid (its check character does not match); please check it and enter it again."
    ),
    ResidentIdProblem.INCONSISTENT_BIRTH_DATE: (
        "填写的出生日期与身份证号码不一致。 The date of birth entered does not match the ID number."
    ),
    ResidentIdProblem.INCONSISTENT_GENDER: (
        "填写的性别与身份证号码不一致。 The gender entered does not match the ID number."
    ),
}

_MOBILE_MESSAGE = "手机号码不正确，请填写11位中国大陆手机号码。 Please enter an 11-digit mainland China mobile number."


class InvalidResidentId(ValueError):
    """Carries a machine-readable `reason`; the message is fixed per reason and never quotes the number."""

    def __init__(self, reason: ResidentIdProblem) -> None:
        super().__init__(_MESSAGES[reason])
        self.reason = reason


class InvalidMobile(ValueError):
    """The message never quotes the number."""

    def __init__(self) -> None:
        super().__init__(_MOBILE_MESSAGE)


@dataclass(frozen=True, repr=False)
class ResidentId:
    number: str  # 18 characters, the check character upper-case
    birth_date: date
    gender: Gender

    def __repr__(self) -> str:
        # Reprs land in logs and tracebacks: show no more than a response would.
        return f"ResidentId({mask_resident_id(self.number)})"


# ISO 7064 MOD 11-2 as GB 11643-1999 tabulates it.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARACTERS = "10X98765432"

# [0-9], not \d: \d also matches full-width and other scripts' digits.
_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9Xx]")
_LEGACY_RESIDENT_ID = re.compile(r"[0-9]{15}")
_EARLIEST_BIRTH_DATE = date(1900, 1, 1)

_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_ELEVEN_DIGITS = re.compile(r"[0-9]{11}")
_MOBILE_SEPARATORS = re.compile(r"[\s-]+")

MINOR_CONSENT_AGE = 14  # PIPL art. 31


def validate_resident_id(number: str, *, today: date) -> ResidentId:
    """Check an 18-character resident ID number (GB 11643-1999) and read its birth date and gender.

    Surrounding whitespace is ignored and a lower-case x is accepted; the result's number has it upper-case.
    """
    value = number.strip()
    if len(value) != 18:
        legacy = _LEGACY_RESIDENT_ID.fullmatch(value) is not None
        raise InvalidResidentId(ResidentIdProblem.LEGACY_15_DIGIT if legacy else ResidentIdProblem.WRONG_LENGTH)
    if not _RESIDENT_ID.fullmatch(value):
        raise InvalidResidentId(ResidentIdProblem.BAD_CHARACTERS)
    value = value[:17] + value[17].upper()

    # Division codes (GB/T 2260) start with a region digit 1-8, which also rules out 000000.
    if value[0] not in "12345678":
        raise InvalidResidentId(ResidentIdProblem.BAD_REGION)

    try:
        birth_date = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidResidentId(ResidentIdProblem.BAD_BIRTH_DATE) from None
    if birth_date < _EARLIEST_BIRTH_DATE:
        raise InvalidResidentId(ResidentIdProblem.BAD_BIRTH_DATE)
    if birth_date > today:
        raise InvalidResidentId(ResidentIdProblem.FUTURE_BIRTH_DATE)

    remainder = sum(int(digit) * weight for digit, weight in zip(value[:17], _WEIGHTS, strict=True)) % 11
    if value[17] != _CHECK_CHARACTERS[remainder]:
        raise InvalidResidentId(ResidentIdProblem.BAD_CHECKSUM)

    gender = Gender.MALE if int(value[16]) % 2 else Gender.FEMALE
    return ResidentId(number=value, birth_date=birth_date, gender=gender)


def check_consistent(resident_id: ResidentId, *, birth_date: date | None, gender: Gender | None) -> None:
    """Reject a profile whose separately entered birth date or gender (None: not entered) contradicts the number."""
    if birth_date is not None and birth_date != resident_id.birth_date:
        raise InvalidResidentId(ResidentIdProblem.INCONSISTENT_BIRTH_DATE)
    if gender is not None and gender != resident_id.gender:
        raise InvalidResidentId(ResidentIdProblem.INCONSISTENT_GENDER)


def _strip_mobile(number: str) -> str:
    digits = _MOBILE_SEPARATORS.sub("", number)
    # No mobile number starts with 8, so a leading 86 is always the country code.
    for prefix in ("+86", "86"):
        if digits.startswith(prefix):
            return digits[len(prefix) :]
    return digits


def validate_mobile(number: str) -> str:
    """Return the 11 digits of a mainland China mobile number written with or without +86, spaces or hyphens."""
    digits = _strip_mobile(number)
    if not _MOBILE.fullmatch(digits):
        raise InvalidMobile()
    return digits


# Masking: anything that does not have the expected shape is starred out entirely.


def mask_resident_id(number: str) -> str:
    value = number.strip()
    if len(value) == 18:
        return f"{value[:6]}********{value[14:]}"
    return "*" * len(value)


def mask_mobile(number: str) -> str:
    digits = _strip_mobile(number)
    if _ELEVEN_DIGITS.fullmatch(digits):
        return f"{digits[:3]}****{digits[7:]}"
    return "*" * len(number.strip())


def mask_name(name: str) -> str:
    value = name.strip()
    if len(value) <= 1:
        return "*" * len(value)
    return value[0] + "*" * (len(value) - 1)


def age_on(birth_date: date, on: date) -> int:
    """Completed years on `on`; someone born on 29 February turns a year older on 1 March in common years."""
    if on < birth_date:
        raise ValueError("the day is before the date of birth")
    # In a common year (2, 28) < (2, 29) <= (3, 1): the 29 February birthday falls on 1 March.
    had_birthday = (on.month, on.day) >= (birth_date.month, birth_date.day)
    return on.year - birth_date.year - (0 if had_birthday else 1)


def is_minor_under_14(birth_date: date, on: date) -> bool:
    """PIPL art. 31: a minor under 14's personal information needs a parent's or guardian's consent."""
    return age_on(birth_date, on) < MINOR_CONSENT_AGE
