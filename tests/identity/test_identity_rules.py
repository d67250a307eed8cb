"""Identity rules under PIPL: resident ID and mobile numbers, consistency, masking, age.

Expected values never come from domain.identity: check characters are worked out by hand in the
comments, or by `reference_check_character`, which starts from ISO 7064's definition (weights
2^(n-1) mod 11, weighted sum of all 18 characters ≡ 1 mod 11) instead of GB 11643's tables.
"""

from __future__ import annotations

import calendar
import dataclasses
import re
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from domain.identity import (
    Gender,
    InvalidMobile,
    InvalidResidentId,
    ResidentId,
    ResidentIdProblem,
    age_on,
    check_consistent,
    is_minor_under_14,
    mask_mobile,
    mask_name,
    mask_resident_id,
    validate_mobile,
    validate_resident_id,
)

TODAY = date(2025, 6, 15)

# GB 11643-1999's own example. Digits 1 1 0 1 0 5 1 9 4 9 1 2 3 1 0 0 2
# × weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
# = 7 + 9 + 0 + 5 + 0 + 20 + 2 + 9 + 24 + 27 + 7 + 18 + 30 + 5 + 0 + 0 + 4 = 167; 167 mod 11 = 2 → "X".
# Born 1949-12-31; sequence 002 ends even → female.
GB_EXAMPLE = "11010519491231002X"

# Digits 4 4 0 3 0 8 1 9 9 9 0 1 0 1 1 2 3
# × weights = 28 + 36 + 0 + 15 + 0 + 32 + 2 + 9 + 54 + 27 + 0 + 9 + 0 + 5 + 8 + 8 + 6 = 239;
# 239 mod 11 = 8 → "4". Born 1999-01-01; sequence 123 ends odd → male.
SHENZHEN_MALE = "440308199901011234"

# Digits 1 1 0 1 0 1 2 0 0 0 0 2 2 9 0 0 1
# × weights = 7 + 9 + 0 + 5 + 0 + 4 + 4 + 0 + 0 + 0 + 0 + 18 + 20 + 45 + 0 + 0 + 2 = 114;
# 114 mod 11 = 4 → "8". Born 2000-02-29 (2000 is a leap year); sequence 001 ends odd → male.
LEAP_DAY_MALE = "110101200002290018"


def reference_check_character(body: str) -> str:
    """The character that makes the weighted sum ≡ 1 (mod 11), found by trying all eleven."""
    assert re.fullmatch(r"[0-9]{17}", body)
    # The character n places from the right (the check character being n = 1) weighs 2^(n-1) mod 11.
    total = sum(int(digit) * pow(2, 17 - index, 11) for index, digit in enumerate(body))
    (found,) = [char for value, char in enumerate("0123456789X") if (total + value) % 11 == 1]
    return found


def make_id(region: str = "330102", birth: str = "19850704", sequence: str = "135") -> str:
    body = region + birth + sequence
    return body + reference_check_character(body)


def reason_of(number: str, *, today: date = TODAY) -> ResidentIdProblem:
    with pytest.raises(InvalidResidentId) as raised:
        validate_resident_id(number, today=today)
    return raised.value.reason


def test_the_reference_routine_agrees_with_the_hand_worked_numbers() -> None:
    for number in (GB_EXAMPLE, SHENZHEN_MALE, LEAP_DAY_MALE):
        assert reference_check_character(number[:17]) == number[17]


# --- valid numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "birth_date", "gender"),
    [
        (GB_EXAMPLE, date(1949, 12, 31), Gender.FEMALE),
        (SHENZHEN_MALE, date(1999, 1, 1), Gender.MALE),
        (LEAP_DAY_MALE, date(2000, 2, 29), Gender.MALE),
    ],
)
def test_hand_checked_numbers_are_read(number: str, birth_date: date, gender: Gender) -> None:
    assert validate_resident_id(number, today=TODAY) == ResidentId(number, birth_date, gender)


def test_a_lower_case_x_is_accepted_and_upper_cased() -> None:
    resident_id = validate_resident_id("11010519491231002x", today=TODAY)
    assert resident_id.number == GB_EXAMPLE


def test_surrounding_whitespace_is_ignored() -> None:
    assert validate_resident_id(f"  {SHENZHEN_MALE}\n", today=TODAY).number == SHENZHEN_MALE


def test_every_check_character_occurs_in_some_valid_number() -> None:
    seen: dict[str, str] = {}
    for sequence in range(1000):
        number = make_id(sequence=f"{sequence:03d}")
        seen.setdefault(number[17], number)
    assert sorted(seen) == sorted("0123456789X")
    for number in seen.values():
        assert validate_resident_id(number, today=TODAY).number == number


def test_exactly_one_check_character_fits_a_body() -> None:
    body = "51010719770523041"
    accepted = []
    for char in "0123456789X":
        try:
            validate_resident_id(body + char, today=TODAY)
        except InvalidResidentId as error:
            assert error.reason is ResidentIdProblem.BAD_CHECKSUM
        else:
            accepted.append(char)
    assert accepted == [reference_check_character(body)]


@pytest.mark.parametrize("last_digit", range(10))
def test_the_sequence_codes_last_digit_gives_the_gender(last_digit: int) -> None:
    resident_id = validate_resident_id(make_id(sequence=f"02{last_digit}"), today=TODAY)
    assert resident_id.gender is (Gender.MALE if last_digit in (1, 3, 5, 7, 9) else Gender.FEMALE)


@pytest.mark.parametrize("region", ["110000", "230103", "310115", "460100", "500101", "650102", "710000", "810000"])
def test_region_codes_starting_1_to_8_are_accepted(region: str) -> None:
    assert validate_resident_id(make_id(region=region), today=TODAY).number[:6] == region


@pytest.mark.parametrize(
    ("birth", "expected"),
    [
        ("19000101", date(1900, 1, 1)),  # the earliest accepted
        ("20000229", date(2000, 2, 29)),  # 2000 is a leap year (divisible by 400)
        ("19960229", date(1996, 2, 29)),
        ("20241231", date(2024, 12, 31)),
        ("20250615", TODAY),  # born today
    ],
)
def test_real_birth_dates_are_read(birth: str, expected: date) -> None:
    assert validate_resident_id(make_id(birth=birth), today=TODAY).birth_date == expected


def test_the_future_is_judged_against_the_given_today() -> None:
    tomorrow = TODAY + timedelta(days=1)
    number = make_id(birth=tomorrow.strftime("%Y%m%d"))
    assert reason_of(number, today=TODAY) is ResidentIdProblem.FUTURE_BIRTH_DATE
    assert validate_resident_id(number, today=tomorrow).birth_date == tomorrow


def test_the_result_is_frozen_and_its_repr_is_masked() -> None:
    resident_id = validate_resident_id(SHENZHEN_MALE, today=TODAY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        resident_id.number = GB_EXAMPLE  # type: ignore[misc]
    assert SHENZHEN_MALE not in repr(resident_id)
    assert SHENZHEN_MALE not in str(resident_id)
    assert "19990101" not in repr(resident_id)


# --- rejected numbers ------------------------------------------------------------------------

REJECTED: list[tuple[str, ResidentIdProblem]] = [
    ("", ResidentIdProblem.WRONG_LENGTH),
    ("11010519491231002", ResidentIdProblem.WRONG_LENGTH),  # 17
    ("11010519491231002X1", ResidentIdProblem.WRONG_LENGTH),  # 19
    ("1101051949123100", ResidentIdProblem.WRONG_LENGTH),  # 16
    ("11010549123100X", ResidentIdProblem.WRONG_LENGTH),  # 15, but not the all-digit legacy form
    ("110105 19491231 002X", ResidentIdProblem.WRONG_LENGTH),  # inner spaces are not removed
    ("110105491231002", ResidentIdProblem.LEGACY_15_DIGIT),  # the same person's 15-digit number
    ("440308990101123", ResidentIdProblem.LEGACY_15_DIGIT),
    ("11010519491231002Y", ResidentIdProblem.BAD_CHARACTERS),
    ("1101051949123100X2", ResidentIdProblem.BAD_CHARACTERS),  # X only as the check character
    ("A1010519491231002X", ResidentIdProblem.BAD_CHARACTERS),
    ("110105-1949123102X", ResidentIdProblem.BAD_CHARACTERS),
    ("１１０１０５１９４９１２３１００２Ｘ", ResidentIdProblem.BAD_CHARACTERS),  # full-width
    ("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", ResidentIdProblem.BAD_CHARACTERS),  # Arabic-Indic digits pass str.isdigit
    (make_id(region="000000"), ResidentIdProblem.BAD_REGION),
    (make_id(region="012345"), ResidentIdProblem.BAD_REGION),
    (make_id(region="910000"), ResidentIdProblem.BAD_REGION),
    (make_id(birth="19000229"), ResidentIdProblem.BAD_BIRTH_DATE),  # 1900 is not a leap year
    (make_id(birth="20230229"), ResidentIdProblem.BAD_BIRTH_DATE),
    (make_id(birth="20000230"), ResidentIdProblem.BAD_BIRTH_DATE),
    (make_id(birth="19850431"), ResidentIdProblem.BAD_BIRTH_DATE),
    (make_id(birth="19851301"), ResidentIdProblem.BAD_BIRTH_DATE),
    (make_id(birth="19850001"), ResidentIdProblem.BAD_BIRTH_DATE),
    (make_id(birth="19850700"), ResidentIdProblem.BAD_BIRTH_DATE),
    (make_id(birth="00000000"), ResidentIdProblem.BAD_BIRTH_DATE),
    (make_id(birth="18991231"), ResidentIdProblem.BAD_BIRTH_DATE),  # before 1900
    (make_id(birth="20250616"), ResidentIdProblem.FUTURE_BIRTH_DATE),  # TODAY + 1 day
    (make_id(birth="20991231"), ResidentIdProblem.FUTURE_BIRTH_DATE),
    ("110105194912310020", ResidentIdProblem.BAD_CHECKSUM),
    ("110105194912310025", ResidentIdProblem.BAD_CHECKSUM),  # the masking example is not a valid number
    ("440308199901011235", ResidentIdProblem.BAD_CHECKSUM),
    ("44030819990101123X", ResidentIdProblem.BAD_CHECKSUM),
]


@pytest.mark.parametrize(
    ("number", "reason"), REJECTED, ids=[f"{reason}-{i}" for i, (_, reason) in enumerate(REJECTED)]
)
def test_each_problem_is_named(number: str, reason: ResidentIdProblem) -> None:
    assert reason_of(number) is reason


def test_every_validation_problem_is_covered() -> None:
    consistency = {ResidentIdProblem.INCONSISTENT_BIRTH_DATE, ResidentIdProblem.INCONSISTENT_GENDER}
    assert {reason for _, reason in REJECTED} == set(ResidentIdProblem) - consistency


@pytest.mark.parametrize("wrong_char", "0123456789")
def test_every_wrong_check_character_is_a_checksum_problem(wrong_char: str) -> None:
    assert reason_of(GB_EXAMPLE[:17] + wrong_char) is ResidentIdProblem.BAD_CHECKSUM


def test_every_single_digit_mistake_is_caught() -> None:
    for position in range(17):
        for digit in "0123456789":
            if digit != SHENZHEN_MALE[position]:
                changed = SHENZHEN_MALE[:position] + digit + SHENZHEN_MALE[position + 1 :]
                with pytest.raises(InvalidResidentId):
                    validate_resident_id(changed, today=TODAY)


def test_every_swap_of_neighbouring_digits_is_caught() -> None:
    for number in (GB_EXAMPLE, SHENZHEN_MALE, LEAP_DAY_MALE):
        for position in range(16):
            a, b = number[position], number[position + 1]
            if a != b:
                swapped = number[:position] + b + a + number[position + 2 :]
                with pytest.raises(InvalidResidentId):
                    validate_resident_id(swapped, today=TODAY)


def test_the_legacy_message_asks_for_the_18_digit_number() -> None:
    with pytest.raises(InvalidResidentId) as raised:
        validate_resident_id("110105491231002", today=TODAY)
    assert "18位" in str(raised.value)
    assert "18-digit" in str(raised.value)


def test_the_error_is_a_value_error_built_from_its_reason() -> None:
    error = InvalidResidentId(reason=ResidentIdProblem.BAD_REGION)
    assert isinstance(error, ValueError)
    assert error.reason is ResidentIdProblem.BAD_REGION


# --- consistency with separately entered data ------------------------------------------------


def test_matching_or_missing_profile_data_is_consistent() -> None:
    resident_id = validate_resident_id(GB_EXAMPLE, today=TODAY)
    check_consistent(resident_id, birth_date=date(1949, 12, 31), gender=Gender.FEMALE)
    check_consistent(resident_id, birth_date=None, gender=None)
    check_consistent(resident_id, birth_date=date(1949, 12, 31), gender=None)
    check_consistent(resident_id, birth_date=None, gender=Gender.FEMALE)


@pytest.mark.parametrize(
    ("birth_date", "gender", "reason"),
    [
        (date(1949, 12, 30), None, ResidentIdProblem.INCONSISTENT_BIRTH_DATE),
        (date(1949, 1, 31), Gender.FEMALE, ResidentIdProblem.INCONSISTENT_BIRTH_DATE),
        (None, Gender.MALE, ResidentIdProblem.INCONSISTENT_GENDER),
        (date(1949, 12, 31), Gender.MALE, ResidentIdProblem.INCONSISTENT_GENDER),
        (date(1950, 12, 31), Gender.MALE, ResidentIdProblem.INCONSISTENT_BIRTH_DATE),  # date checked first
    ],
)
def test_contradicting_profile_data_is_rejected(
    birth_date: date | None, gender: Gender | None, reason: ResidentIdProblem
) -> None:
    resident_id = validate_resident_id(GB_EXAMPLE, today=TODAY)
    with pytest.raises(InvalidResidentId) as raised:
        check_consistent(resident_id, birth_date=birth_date, gender=gender)
    assert raised.value.reason is reason


# --- mobile numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "13812341234",
        "+86 138-1234-1234",
        "8613812341234",
        "+8613812341234",
        "86 138 1234 1234",
        "138 1234 1234",
        "138-1234-1234",
        " 13812341234\t",
        "+86\u3000138\u30001234\u30001234",  # ideographic spaces from a Chinese keyboard
    ],
)
def test_mobile_formats_give_the_11_digits(written: str) -> None:
    assert validate_mobile(written) == "13812341234"


@pytest.mark.parametrize("second", "3456789")
def test_mobile_second_digits_3_to_9_are_accepted(second: str) -> None:
    assert validate_mobile(f"1{second}012345678") == f"1{second}012345678"


@pytest.mark.parametrize(
    "written",
    [
        "12812341234",  # second digit 2
        "10812341234",
        "11812341234",
        "1381234123",  # 10 digits
        "138123412345",  # 12 digits
        "23812341234",  # does not start with 1
        "",
        "+86",
        "+86 1381234123",
        "+8686 13812341234",  # one country code only
        "+852 6123 4567",
        "+1 138 1234 1234",
        "(+86) 13812341234",
        "138.1234.1234",
        "１３８１２３４１２３４",  # full-width digits
        "1381234123a",
    ],
)
def test_malformed_mobiles_are_rejected(written: str) -> None:
    with pytest.raises(InvalidMobile):
        validate_mobile(written)


def test_the_mobile_error_is_a_value_error() -> None:
    assert issubclass(InvalidMobile, ValueError)


# --- error messages keep personal data out of logs -------------------------------------------


def assert_message_hides(error: ValueError, written: str) -> None:
    for text in (str(error), repr(error)):
        assert re.search(r"[0-9]{5,}", text) is None  # no part of any number: birth date, region, digits
        if len(written.strip()) >= 3:
            assert written.strip() not in text
        assert re.search(r"[\u4e00-\u9fff]", text)  # Chinese
        assert re.search(r"[A-Za-z]{4,}", text)  # and English


@pytest.mark.parametrize("number", [number for number, _ in REJECTED])
def test_no_resident_id_message_contains_the_number(number: str) -> None:
    with pytest.raises(InvalidResidentId) as raised:
        validate_resident_id(number, today=TODAY)
    assert_message_hides(raised.value, number)


def test_no_consistency_message_contains_the_number() -> None:
    resident_id = validate_resident_id(GB_EXAMPLE, today=TODAY)
    for birth_date, gender in ((date(1950, 1, 1), None), (None, Gender.MALE)):
        with pytest.raises(InvalidResidentId) as raised:
            check_consistent(resident_id, birth_date=birth_date, gender=gender)
        assert_message_hides(raised.value, GB_EXAMPLE)


@pytest.mark.parametrize("written", ["12812341234", "+86 128-1234-1234", "1381234123", "138123412345"])
def test_no_mobile_message_contains_the_number(written: str) -> None:
    with pytest.raises(InvalidMobile) as raised:
        validate_mobile(written)
    assert_message_hides(raised.value, written)
    assert written.replace(" ", "").replace("-", "").removeprefix("+86") not in str(raised.value)


def test_the_exception_chain_carries_no_number() -> None:
    with pytest.raises(InvalidResidentId) as raised:
        validate_resident_id(make_id(birth="20230229"), today=TODAY)
    # The date() error it replaces is hidden from tracebacks and would say nothing personal anyway.
    assert raised.value.__suppress_context__
    context = raised.value.__context__
    assert context is None or re.search(r"[0-9]{5,}", str(context)) is None


# --- masking ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("110105194912310025", "110105********0025"),
        (GB_EXAMPLE, "110105********002X"),
        ("11010519491231002x", "110105********002x"),
        (SHENZHEN_MALE, "440308********1234"),
    ],
)
def test_resident_ids_keep_the_first_6_and_last_4(number: str, masked: str) -> None:
    assert mask_resident_id(number) == masked


@pytest.mark.parametrize(
    ("written", "masked"),
    [
        ("13812341234", "138****1234"),
        ("+86 138-1234-1234", "138****1234"),
        ("8613812341234", "138****1234"),
    ],
)
def test_mobiles_keep_the_first_3_and_last_4(written: str, masked: str) -> None:
    assert mask_mobile(written) == masked


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("王小明", "王**"),
        ("王明", "王*"),
        ("王", "*"),
        ("欧阳娜娜", "欧***"),  # compound surname: same rule
        ("诸葛亮", "诸**"),
        ("买买提·艾力", "买*****"),
        (" 王小明 ", "王**"),
        ("", ""),
    ],
)
def test_names_keep_the_first_character(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    "number",
    ["1", "12345", "110105491231002", "11010519491231002", "11010519491231002X1", "身份证", "１１０１０５"],
)
def test_malformed_resident_ids_are_all_stars(number: str) -> None:
    assert mask_resident_id(number) == "*" * len(number)


@pytest.mark.parametrize("written", ["1", "12345", "1381234123", "138123412345", "not a phone", "+852 6123 4567"])
def test_malformed_mobiles_are_all_stars(written: str) -> None:
    masked = mask_mobile(written)
    assert masked
    assert set(masked) == {"*"}


MASKERS = [mask_resident_id, mask_mobile, mask_name]
ODD_INPUTS = ["1", "王", "12", "abc", "13812341234", GB_EXAMPLE, "110105491231002", "+86", "  x  ", "王小明"]


@pytest.mark.parametrize("mask", MASKERS, ids=lambda mask: mask.__name__)
@pytest.mark.parametrize("value", ODD_INPUTS)
def test_no_masker_returns_its_input(mask: Callable[[str], str], value: str) -> None:
    masked = mask(value)
    assert isinstance(masked, str)
    assert masked != value
    assert masked != value.strip()
    assert "*" in masked


def test_maskers_hide_the_middle_of_a_number() -> None:
    assert "19491231" not in mask_resident_id(GB_EXAMPLE)
    assert "5678" not in mask_mobile("13856781234")


# --- age --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth_date", "on", "age"),
    [
        (date(2000, 6, 15), date(2000, 6, 15), 0),
        (date(2000, 6, 15), date(2025, 6, 14), 24),
        (date(2000, 6, 15), date(2025, 6, 15), 25),
        (date(1999, 12, 31), date(2000, 1, 1), 0),
        (date(1999, 12, 31), date(2000, 12, 31), 1),
        (date(2000, 2, 29), date(2023, 2, 28), 22),  # no 29 February in 2023: not yet
        (date(2000, 2, 29), date(2023, 3, 1), 23),  # counts on 1 March
        (date(2000, 2, 29), date(2024, 2, 28), 23),
        (date(2000, 2, 29), date(2024, 2, 29), 24),
        (date(1900, 1, 1), date(2025, 6, 15), 125),
    ],
)
def test_age_is_completed_years(birth_date: date, on: date, age: int) -> None:
    assert age_on(birth_date, on) == age


@pytest.mark.parametrize("birth_date", [date(2000, 2, 29), date(2001, 3, 1), date(1999, 12, 31), date(2004, 1, 1)])
def test_age_rises_by_one_exactly_on_each_birthday(birth_date: date) -> None:
    def is_birthday(day: date) -> bool:
        if (birth_date.month, birth_date.day) == (2, 29) and not calendar.isleap(day.year):
            return (day.month, day.day) == (3, 1)
        return (day.month, day.day) == (birth_date.month, birth_date.day)

    previous = age_on(birth_date, birth_date)
    assert previous == 0
    day = birth_date
    while day < birth_date + timedelta(days=366 * 20):
        day += timedelta(days=1)
        age = age_on(birth_date, day)
        assert age - previous == (1 if is_birthday(day) else 0), day
        previous = age
    assert previous == 20


def test_age_before_birth_is_an_error() -> None:
    with pytest.raises(ValueError):
        age_on(date(2000, 1, 2), date(2000, 1, 1))


@pytest.mark.parametrize(
    ("birth_date", "on", "minor"),
    [
        (date(2011, 6, 15), date(2025, 6, 14), True),
        (date(2011, 6, 15), date(2025, 6, 15), False),  # the 14th birthday itself
        (date(2012, 2, 29), date(2026, 2, 28), True),
        (date(2012, 2, 29), date(2026, 3, 1), False),
        (date(2025, 6, 15), date(2025, 6, 15), True),
        (date(1949, 12, 31), date(2025, 6, 15), False),
    ],
)
def test_minors_under_14_need_a_guardian(birth_date: date, on: date, minor: bool) -> None:
    assert is_minor_under_14(birth_date, on) is minor


def test_a_child_is_recognised_from_the_number() -> None:
    child = validate_resident_id(make_id(birth="20120229", sequence="004"), today=date(2026, 2, 28))
    assert (child.birth_date, child.gender) == (date(2012, 2, 29), Gender.FEMALE)
    assert is_minor_under_14(child.birth_date, date(2026, 2, 28))
    assert not is_minor_under_14(child.birth_date, date(2026, 3, 1))
