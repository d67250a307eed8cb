"""FHIR R4 resources (parsed JSON) → our DTOs. Pure functions, no I/O.

Real servers send what they send: partial dates, units as text or as UCUM codes, interpretations
in several code systems, ranges given only as text, panels that group results through hasMember,
values split into components. What cannot be read raises `MalformedResource`, naming the field but
never the value (values are health data and end up in logs); the caller skips that one entry.

Every field is checked here as it is read, so the DTOs are built directly (they validate nothing
again): a patient's record has hundreds of results, read on the request's critical path.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from datasources.his.model import (
    Attachment,
    ClassPeriod,
    HisEncounter,
    HisPatient,
    HisReport,
    HisResult,
    Period,
    Quantity,
    ReferenceRange,
    StepLocation,
    StepProgress,
)
from domain.enums import VisitStep
from domain.health_records import (
    UCUM,
    V2_0074,
    V3_INTERPRETATION,
    classify_report,
    clean_text,
    first_text,
    flag_from_interpretation,
    unit_key,
    visit_kind,
)
from domain.identity import mask_mobile, mask_resident_id

Resource = Mapping[str, Any]
Resolver = Callable[[str], Resource | None]
Digest = Callable[[str], str]

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
SNOMED = "http://snomed.info/sct"
RANGE_MEANING = "http://terminology.hl7.org/CodeSystem/referencerange-meaning"
# Our profile of visit progress: one Task per step of the visit (see datasources/his/fhir/client.py).
VISIT_STEP_SYSTEM = "https://hospital-bff.example/fhir/CodeSystem/visit-step"
QUEUE_NUMBER_SYSTEM = "https://hospital-bff.example/fhir/NamingSystem/queue-number"
WAITING_AHEAD = "waiting-ahead"
# Identifier types of a national person identifier (v2-0203): NNCHN = national number, China.
RESIDENT_ID_TYPES = frozenset({"NNCHN", "NI"})
_SEXES = {"248153007": "male", "248152002": "female"}
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_DATE_TIME = re.compile(
    r"(?P<year>[0-9]{4})(-(?P<month>[0-9]{2})(-(?P<day>[0-9]{2})"
    r"(T(?P<time>[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)(?P<zone>Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?"
)
_MAX_MEMBER_DEPTH = 4


class MalformedResource(ValueError):
    """A resource that cannot be read; the message names the field, never its value."""


def is_fhir_id(value: str) -> bool:
    return _FHIR_ID.fullmatch(value) is not None


# ---- primitives ----------------------------------------------------------------------------


def _dict(value: Any, field: str) -> Mapping[str, Any]:
    if type(value) is dict:  # the common case, checked without the ABC machinery
        return value
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedResource(f"{field} is not an object")
    return value


def _list(value: Any, field: str) -> list[Any]:
    if type(value) is list:
        return value
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedResource(f"{field} is not a list")
    return value


def _str(value: Any, field: str) -> str | None:
    if value is None or type(value) is str:
        return value
    if not isinstance(value, str):
        raise MalformedResource(f"{field} is not a string")
    return value


def _number(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    # bool is an int in Python, and not a number in FHIR.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedResource(f"{field} is not a number")
    return float(value)


def resource_id(resource: Resource) -> str:
    value = resource.get("id")
    if not isinstance(value, str) or not is_fhir_id(value):
        raise MalformedResource("id is missing or not a FHIR id")
    return value


def parse_datetime(value: Any, field: str, zone: ZoneInfo) -> datetime | None:
    """A FHIR date, dateTime or instant as an aware UTC datetime. Partial dates (2017, 2017-03,
    2017-03-02) and times without offset mean the start of that period in the hospital's zone."""
    text = _str(value, field)
    if text is None:
        return None
    if len(text) >= 25 and text[10] == "T" and text[-6] in "+-":
        # The usual full form with an offset: the fast path (still checked by fromisoformat).
        try:
            return datetime.fromisoformat(text).astimezone(UTC)
        except ValueError:
            pass
    match = _DATE_TIME.fullmatch(text.strip())
    if match is None:
        raise MalformedResource(f"{field} is not a FHIR date/time")
    try:
        day = date(int(match["year"]), int(match["month"] or 1), int(match["day"] or 1))
        moment = time.fromisoformat(match["time"]) if match["time"] else time()
    except ValueError:
        raise MalformedResource(f"{field} is not a valid date/time") from None
    offset = match["zone"]
    if offset is None:
        local = datetime.combine(day, moment, tzinfo=zone)
    else:
        local = datetime.fromisoformat(f"{day.isoformat()}T{moment.isoformat()}{'+00:00' if offset == 'Z' else offset}")
    return local.astimezone(UTC)


def parse_date(value: Any, field: str) -> date | None:
    text = _str(value, field)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10]) if len(text) >= 10 else None
    except ValueError:
        raise MalformedResource(f"{field} is not a date") from None


def parse_period(value: Any, field: str, zone: ZoneInfo) -> Period:
    period = _dict(value, field)
    return Period(
        start=parse_datetime(period.get("start"), f"{field}.start", zone),
        end=parse_datetime(period.get("end"), f"{field}.end", zone),
    )


def codings(concept: Any, field: str) -> list[Mapping[str, Any]]:
    found = _dict(concept, field).get("coding")
    if found is None:
        return []
    if type(found) is list and all(type(c) is dict for c in found):
        return found  # the common case: read as it is, not copied
    return [_dict(c, f"{field}.coding") for c in _list(found, f"{field}.coding")]


def codes_in(concept: Any, field: str, *systems: str | None) -> list[str]:
    """Codes of `concept` in any of `systems` (None: codings that name no system)."""
    found = []
    for coding in codings(concept, field):
        code = _str(coding.get("code"), f"{field}.code")
        if code and coding.get("system") in systems:
            found.append(code)
    return found


def concept_text(concept: Any, field: str) -> str | None:
    value = _dict(concept, field)
    displays = [_str(c.get("display"), f"{field}.display") for c in codings(value, field)]
    return first_text(_str(value.get("text"), f"{field}.text"), *displays)


def reference_key(reference: Any, field: str = "reference") -> str | None:
    """`Observation/r1` for every way of writing it (relative, absolute, versioned); `#id` stays."""
    ref = reference.get("reference") if type(reference) is dict else _dict(reference, field).get("reference")
    ref = _str(ref, field)
    if not ref:
        return None
    return normalise_reference(ref)


def normalise_reference(ref: str) -> str:
    if ref.count("/") == 1 and "?" not in ref and not ref.startswith("/") and not ref.endswith("/"):
        return ref.strip()
    ref = ref.strip()
    if ref.startswith("#") or ref.startswith("urn:"):
        return ref
    parts = [p for p in ref.split("?", 1)[0].split("/") if p]
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return "/".join(parts[-2:])


def reference_id(reference: Any, resource_type: str, field: str) -> str | None:
    key = reference_key(reference, field)
    if key and key.startswith(f"{resource_type}/"):
        return key.split("/", 1)[1]
    return None


# ---- Patient ---------------------------------------------------------------------------------


def _human_name(name: Mapping[str, Any]) -> str | None:
    text = _str(name.get("text"), "name.text")
    if text and text.strip():
        return clean_text(text)
    family = _str(name.get("family"), "name.family") or ""
    given = [g for g in _list(name.get("given"), "name.given") if isinstance(g, str)]
    if not family and not given:
        return None
    # Chinese names are written family name first, without a space.
    if any("\u4e00" <= ch <= "\u9fff" for ch in family + "".join(given)):
        return clean_text(family + "".join(given))
    return clean_text(" ".join([*given, family]))


def parse_patient(resource: Resource, *, digest: Digest, resident_id_systems: frozenset[str]) -> HisPatient:
    patient_id = resource_id(resource)
    names = [_dict(n, "name") for n in _list(resource.get("name"), "name")]
    chosen = next((n for n in names if n.get("use") == "official"), None) or next(
        (n for n in names if n.get("use") in (None, "usual")), names[0] if names else None
    )
    resident_id = record_number = None
    for identifier in (_dict(i, "identifier") for i in _list(resource.get("identifier"), "identifier")):
        value = _str(identifier.get("value"), "identifier.value")
        if not value:
            continue
        types = set(codes_in(identifier.get("type"), "identifier.type", V2_0203))
        if resident_id is None and (types & RESIDENT_ID_TYPES or identifier.get("system") in resident_id_systems):
            resident_id = value.strip().upper()
        elif record_number is None and "MR" in types:
            record_number = value.strip()
    phones = [
        _dict(t, "telecom")
        for t in _list(resource.get("telecom"), "telecom")
        if isinstance(t, Mapping) and t.get("system") == "phone" and t.get("value")
    ]
    phones.sort(key=lambda t: (t.get("use") != "mobile", t.get("rank", 99)))
    gender = _str(resource.get("gender"), "gender")
    return HisPatient(
        id=patient_id,
        name=_human_name(chosen) if chosen else None,
        gender=gender if gender in ("male", "female", "other", "unknown") else None,  # type: ignore[arg-type]
        birth_date=parse_date(resource.get("birthDate"), "birthDate"),
        resident_id_digest=digest(resident_id) if resident_id else None,
        resident_id_masked=mask_resident_id(resident_id) if resident_id else None,
        mobile_masked=mask_mobile(str(phones[0]["value"])) if phones else None,
        medical_record_number=record_number,
    )


# ---- Encounter -------------------------------------------------------------------------------


def parse_encounter(resource: Resource, *, zone: ZoneInfo) -> HisEncounter:
    encounter_id = resource_id(resource)
    # R4: Encounter.class is a single Coding (not a CodeableConcept).
    klass = _dict(resource.get("class"), "class")
    class_code = _str(klass.get("code"), "class.code")
    history = []
    for item in (_dict(h, "classHistory") for h in _list(resource.get("classHistory"), "classHistory")):
        code = _str(_dict(item.get("class"), "classHistory.class").get("code"), "classHistory.class.code")
        if code:
            history.append(
                ClassPeriod(
                    class_code=code,
                    kind=visit_kind(code),
                    period=parse_period(item.get("period"), "classHistory.period", zone),
                )
            )
    # R4: serviceType is one CodeableConcept; some servers send a list (as R5 does).
    service_type = resource.get("serviceType")
    service_types = [service_type] if isinstance(service_type, Mapping) else _list(service_type, "serviceType")
    locations = [
        _str(_dict(_dict(loc, "location").get("location"), "location.location").get("display"), "location.display")
        for loc in _list(resource.get("location"), "location")
    ]
    provider = _str(_dict(resource.get("serviceProvider"), "serviceProvider").get("display"), "serviceProvider")
    reasons = [concept_text(r, "reasonCode") for r in _list(resource.get("reasonCode"), "reasonCode")]
    return HisEncounter(
        id=encounter_id,
        class_code=class_code,
        kind=visit_kind(class_code),
        status=_str(resource.get("status"), "status"),
        period=parse_period(resource.get("period"), "period", zone),
        department=first_text(*(concept_text(s, "serviceType") for s in service_types), *locations, provider),
        reason=first_text(*reasons),
        history=tuple(sorted(history, key=lambda h: h.period.start or datetime.min.replace(tzinfo=UTC))),
    )


# ---- Observation -----------------------------------------------------------------------------


@functools.cache
def _subfields(field: str, *names: str) -> tuple[str, ...]:
    """`field.name` for each name, made once per field: results are many, their field names few."""
    return tuple(f"{field}.{name}" for name in names)


def _quantity(value: Any, field: str) -> Quantity:
    quantity = _dict(value, field)
    value_, comparator_, unit_, system_, code_ = _subfields(field, "value", "comparator", "unit", "system", "code")
    number = _number(quantity.get("value"), value_)
    if number is None:
        raise MalformedResource(f"{field}.value is missing")
    comparator = _str(quantity.get("comparator"), comparator_)
    if comparator not in (None, "<", "<=", ">=", ">"):
        raise MalformedResource(f"{field}.comparator is not one of < <= >= >")
    unit = clean_text(_str(quantity.get("unit"), unit_))
    system = _str(quantity.get("system"), system_)
    code = _str(quantity.get("code"), code_)
    return Quantity(
        value=number,
        comparator=comparator,  # type: ignore[arg-type]  # checked above
        unit=unit or display_unit(system, code),
        unit_key=unit_key(unit, system=system, code=code),
    )


def display_unit(system: str | None, code: str | None) -> str | None:
    """A UCUM code shown as the unit when no unit text is given; "1" and annotations like [pH] are not units
    a patient reads."""
    if system != UCUM or not code or code == "1" or code.startswith("["):
        return None
    return code


def _years(value: Any, field: str) -> float | None:
    quantity = _dict(value, field)
    number = _number(quantity.get("value"), f"{field}.value")
    if number is None:
        return None
    unit = quantity.get("code") or quantity.get("unit") or "a"
    return number / 12 if unit in ("mo", "month", "months") else number


def _ranges(value: Any, field: str) -> tuple[ReferenceRange, ...]:
    if value is None:
        return ()
    ranges: list[ReferenceRange] = []
    low_, high_, system_, code_, unit_, low_value, high_value, text_ = _subfields(
        field, "low", "high", "system", "code", "unit", "low.value", "high.value", "text"
    )
    for item in (_dict(r, field) for r in _list(value, field)):
        low = _dict(item.get("low"), low_)
        high = _dict(item.get("high"), high_)
        bound = low or high
        age = _dict(item.get("age"), f"{field}.age") if "age" in item else {}
        sexes = []
        for concept in _list(item.get("appliesTo"), f"{field}.appliesTo") if "appliesTo" in item else ():
            for code in codes_in(concept, f"{field}.appliesTo", SNOMED, "http://hl7.org/fhir/administrative-gender"):
                sexes.append(_SEXES.get(code, code))
            text = (concept_text(concept, f"{field}.appliesTo") or "").lower()
            if text in ("male", "female", "男", "女") and not sexes:
                sexes.append({"男": "male", "女": "female"}.get(text, text))
        range_system = _str(bound.get("system"), system_)
        range_code = _str(bound.get("code"), code_)
        unit = clean_text(_str(bound.get("unit"), unit_)) or display_unit(range_system, range_code)
        ranges.append(
            ReferenceRange(
                low=_number(low.get("value"), low_value),
                high=_number(high.get("value"), high_value),
                unit=unit,
                unit_key=unit_key(unit, system=range_system, code=range_code),
                text=clean_text(_str(item.get("text"), text_)),
                meaning=next(iter(codes_in(item["type"], f"{field}.type", RANGE_MEANING, None)), None)
                if "type" in item
                else None,
                age_low=_years(age.get("low"), f"{field}.age.low") if age else None,
                age_high=_years(age.get("high"), f"{field}.age.high") if age else None,
                applies_to=tuple(sexes),
            )
        )
    return tuple(ranges)


def _value(item: Mapping[str, Any], field: str) -> tuple[Quantity | None, str | None]:
    """(quantity, text) of value[x]; dataAbsentReason explains a missing value."""
    if "valueQuantity" in item:
        return _quantity(item["valueQuantity"], f"{field}.valueQuantity"), None
    if "valueInteger" in item:
        number = _number(item["valueInteger"], f"{field}.valueInteger")
        return (Quantity(value=number) if number is not None else None), None
    if "valueString" in item:
        return None, clean_text(_str(item["valueString"], f"{field}.valueString"))
    if "valueCodeableConcept" in item:
        return None, concept_text(item["valueCodeableConcept"], f"{field}.valueCodeableConcept")
    if "valueBoolean" in item:
        flag = item["valueBoolean"]
        if not isinstance(flag, bool):
            raise MalformedResource(f"{field}.valueBoolean is not a boolean")
        return None, "是" if flag else "否"
    if "valueRange" in item:
        span = _dict(item["valueRange"], f"{field}.valueRange")
        low = _number(_dict(span.get("low"), "low").get("value"), f"{field}.valueRange.low")
        high = _number(_dict(span.get("high"), "high").get("value"), f"{field}.valueRange.high")
        return None, f"{'' if low is None else f'{low:g}'}–{'' if high is None else f'{high:g}'}"
    if "dataAbsentReason" in item:
        return None, first_text(concept_text(item["dataAbsentReason"], f"{field}.dataAbsentReason"), "无结果")
    return None, None


def _interpretation(item: Mapping[str, Any], field: str) -> tuple[Any, str | None]:
    if "interpretation" not in item:
        return None, None
    interpretation, text = _subfields(field, "interpretation", "interpretation.text")
    concepts = _list(item.get("interpretation"), interpretation)
    codes = [code for c in concepts for code in codes_in(c, interpretation, V3_INTERPRETATION, None)]
    texts = [_str(_dict(c, field).get("text"), text) for c in concepts]
    return flag_from_interpretation(codes), first_text(*texts)


def parse_observation(resource: Resource, *, zone: ZoneInfo) -> tuple[list[HisResult], list[str]]:
    """The results an Observation carries (itself and its components), and its hasMember references."""
    observation_id = resource_id(resource)
    code = _dict(resource.get("code"), "code")
    loinc = codings(code, "code")
    primary = loinc[0] if loinc else {}
    for coding in loinc:
        if coding.get("system") == "http://loinc.org":
            primary = coding
            break
    effective = (
        parse_datetime(resource.get("effectiveDateTime"), "effectiveDateTime", zone)
        or parse_datetime(resource.get("effectiveInstant"), "effectiveInstant", zone)
        or parse_period(resource.get("effectivePeriod"), "effectivePeriod", zone).start
        or parse_datetime(resource.get("issued"), "issued", zone)
    )
    status = _str(resource.get("status"), "status")
    notes = [_str(_dict(n, "note").get("text"), "note.text") for n in _list(resource.get("note"), "note")]
    note = first_text(*notes)
    members = [
        key for key in (reference_key(m, "hasMember") for m in _list(resource.get("hasMember"), "hasMember")) if key
    ]
    results: list[HisResult] = []
    quantity, text = _value(resource, "Observation")
    components = [_dict(c, "component") for c in _list(resource.get("component"), "component")]
    flag, flag_text = _interpretation(resource, "Observation")
    if quantity is not None or text is not None or not (components or members):
        results.append(
            HisResult(
                id=observation_id,
                code=_str(primary.get("code"), "code.coding.code"),
                code_system=_str(primary.get("system"), "code.coding.system"),
                his_name=first_text(_str(code.get("text"), "code.text"), *(c.get("display") for c in loinc)),
                quantity=quantity,
                value_text=text,
                ranges=_ranges(resource.get("referenceRange"), "referenceRange"),
                reported_flag=flag,
                interpretation_text=flag_text,
                status=status,
                effective_at=effective,
                note=note,
            )
        )
    for n, component in enumerate(components, 1):
        component_codes = codings(component.get("code"), "component.code")
        first = component_codes[0] if component_codes else {}
        c_quantity, c_text = _value(component, "component")
        if c_quantity is None and c_text is None:
            continue
        c_flag, c_flag_text = _interpretation(component, "component")
        results.append(
            HisResult(
                id=f"{observation_id}.{n}",
                code=_str(first.get("code"), "component.code.code"),
                code_system=_str(first.get("system"), "component.code.system"),
                his_name=concept_text(component.get("code"), "component.code"),
                quantity=c_quantity,
                value_text=c_text,
                ranges=_ranges(component.get("referenceRange"), "component.referenceRange"),
                reported_flag=c_flag or (flag if len(components) == 1 else None),
                interpretation_text=c_flag_text or flag_text,
                status=status,
                effective_at=effective,
                note=note,
            )
        )
    return results, members


# ---- DiagnosticReport -------------------------------------------------------------------------


def _attachments(resource: Resource) -> tuple[Attachment, ...]:
    found = []
    forms = _list(resource.get("presentedForm"), "presentedForm")
    for index, item in enumerate(_dict(a, "presentedForm") for a in forms):
        data = _str(item.get("data"), "presentedForm.data")
        size = item.get("size")
        if not isinstance(size, int) or isinstance(size, bool):
            size = None
        if size is None and data:
            compact = "".join(data.split())  # base64 may be wrapped over lines
            size = len(compact) * 3 // 4 - compact[-2:].count("=")
        found.append(
            Attachment(
                index=index,
                content_type=_str(item.get("contentType"), "presentedForm.contentType"),
                title=clean_text(_str(item.get("title"), "presentedForm.title")),
                size=size,
                language=_str(item.get("language"), "presentedForm.language"),
                url=_str(item.get("url"), "presentedForm.url"),
                inline=bool(data),
            )
        )
    return tuple(found)


def _collect_results(
    refs: list[str],
    contained: Mapping[str, Resource],
    resolve: Resolver,
    zone: ZoneInfo,
    on_skipped: Callable[[str, str], None],
) -> tuple[list[HisResult], int]:
    """The results behind `refs`, panel members right after their panel (depth first), and how many
    could not be found or read. A loop with its own stack, not a recursive closure: a closure that
    calls itself is a reference cycle, which would keep the whole FHIR answer (reachable through
    `resolve`) alive until the garbage collector ran."""
    results: list[HisResult] = []
    missing = 0
    seen: set[str] = set()
    pending = [(ref, 0) for ref in reversed(refs)]
    while pending:
        ref, depth = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        found = contained.get(ref) if ref.startswith("#") else resolve(ref)
        if found is None or depth > _MAX_MEMBER_DEPTH:
            missing += 1
            continue
        try:
            own, members = parse_observation(found, zone=zone)
        except MalformedResource as problem:
            on_skipped(ref, str(problem))
            missing += 1
            continue
        results.extend(own)
        pending.extend((member, depth + 1) for member in reversed(members))
    return results, missing


def parse_report(
    resource: Resource,
    *,
    resolve: Resolver,
    zone: ZoneInfo,
    on_skipped: Callable[[str, str], None] = lambda ref, reason: None,
) -> HisReport:
    """`resolve` finds a referenced resource (included in the search, contained, or fetched);
    results it cannot find, or cannot read, are counted in `missing_results`."""
    report_id = resource_id(resource)
    contained = {f"#{c.get('id')}": c for c in _list(resource.get("contained"), "contained") if isinstance(c, Mapping)}
    refs = [key for key in (reference_key(r, "result") for r in _list(resource.get("result"), "result")) if key]
    results, missing = _collect_results(refs, contained, resolve, zone, on_skipped)
    categories = _list(resource.get("category"), "category")
    if isinstance(resource.get("category"), Mapping):  # some servers send a single object
        categories = [resource["category"]]
    sections = [code for c in categories for code in codes_in(c, "category", V2_0074, None)]
    classification = classify_report(sections, has_results=bool(results))
    code = _dict(resource.get("code"), "code")
    code_codings = codings(code, "code")
    primary = next((c for c in code_codings if c.get("system") == "http://loinc.org"), None) or (
        code_codings[0] if code_codings else {}
    )
    performers = [_dict(p, "performer") for p in _list(resource.get("performer"), "performer")]
    interpreters = [_dict(p, "resultsInterpreter") for p in _list(resource.get("resultsInterpreter"), "interpreter")]
    conclusion_codes = [concept_text(c, "conclusionCode") for c in _list(resource.get("conclusionCode"), "cc")]
    return HisReport(
        id=report_id,
        kind=classification.kind,
        section=classification.section,
        section_label=classification.section_label,
        code=_str(primary.get("code"), "code.coding.code"),
        code_system=_str(primary.get("system"), "code.coding.system"),
        his_title=first_text(_str(code.get("text"), "code.text"), *(c.get("display") for c in code_codings)),
        status=_str(resource.get("status"), "status"),
        encounter_id=reference_id(resource.get("encounter"), "Encounter", "encounter"),
        effective_at=parse_datetime(resource.get("effectiveDateTime"), "effectiveDateTime", zone)
        or parse_period(resource.get("effectivePeriod"), "effectivePeriod", zone).start,
        issued_at=parse_datetime(resource.get("issued"), "issued", zone),
        conclusion=first_text(_str(resource.get("conclusion"), "conclusion"), *conclusion_codes),
        performer=first_text(*(_str(p.get("display"), "performer.display") for p in performers + interpreters)),
        results=tuple(results),
        missing_results=missing,
        attachments=_attachments(resource),
    )


def subject_is(resource: Resource, patient_id: str) -> bool:
    """The resource is about this patient (its subject, or patient, refers to Patient/<id>)."""
    for field in ("subject", "patient", "for"):
        if field in resource:
            try:
                return reference_key(resource[field], field) == f"Patient/{patient_id}"
            except MalformedResource:
                return False
    return False


def decode_inline(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        raise MalformedResource("presentedForm.data is not base64") from None


# ---- Task (visit progress) ---------------------------------------------------------------------


def parse_task(resource: Resource, *, zone: ZoneInfo) -> tuple[str | None, StepProgress] | None:
    """(encounter id, step progress) of a visit-step Task; None for Tasks of other kinds."""
    resource_id(resource)
    steps = [c for c in codes_in(resource.get("code"), "code", VISIT_STEP_SYSTEM) if c in VisitStep.__members__]
    if not steps:
        return None
    status = _str(resource.get("status"), "status")
    if not status:
        raise MalformedResource("status is missing")
    contained = {f"#{c.get('id')}": c for c in _list(resource.get("contained"), "contained") if isinstance(c, Mapping)}
    location = None
    place_ref = reference_key(resource.get("location"), "location") if resource.get("location") else None
    place = contained.get(place_ref or "")
    if place is not None:
        location = StepLocation(
            building_floor=clean_text(_str(_dict(place.get("partOf"), "partOf").get("display"), "partOf.display")),
            room=clean_text(_str(place.get("name"), "location.name")),
            directions=clean_text(_str(place.get("description"), "location.description")),
        )
    elif resource.get("location"):
        location = StepLocation(
            room=clean_text(_str(_dict(resource.get("location"), "location").get("display"), "location.display"))
        )
    queue = None
    for identifier in (_dict(i, "identifier") for i in _list(resource.get("identifier"), "identifier")):
        if identifier.get("system") == QUEUE_NUMBER_SYSTEM:
            queue = _str(identifier.get("value"), "identifier.value")
    ahead = None
    for output in (_dict(o, "output") for o in _list(resource.get("output"), "output")):
        if WAITING_AHEAD in codes_in(output.get("type"), "output.type", VISIT_STEP_SYSTEM, None):
            value = output.get("valueInteger")
            if isinstance(value, int) and not isinstance(value, bool):
                ahead = value
    period = parse_period(resource.get("executionPeriod"), "executionPeriod", zone)
    return reference_id(resource.get("encounter"), "Encounter", "encounter"), StepProgress(
        step=VisitStep(steps[0]),
        status=status,
        started_at=period.start,
        completed_at=period.end,
        location=location,
        queue_number=queue,
        waiting_ahead=ahead,
        note=concept_text(resource.get("businessStatus"), "businessStatus"),
    )


def iter_entries(bundle: Resource) -> Iterator[tuple[Mapping[str, Any], str | None, str | None]]:
    """(resource, search mode, fullUrl) of every entry of a Bundle that has a resource."""
    if bundle.get("resourceType") != "Bundle":
        raise MalformedResource("not a Bundle")
    for entry in _list(bundle.get("entry"), "entry"):
        # JSON objects are dicts: checked by type first, the Mapping ABC only for anything else.
        if not (type(entry) is dict or isinstance(entry, Mapping)):
            continue
        resource = entry.get("resource")
        if type(resource) is dict or isinstance(resource, Mapping):
            search = entry.get("search")
            mode = search.get("mode") if type(search) is dict or isinstance(search, Mapping) else None
            full_url = entry.get("fullUrl")
            yield resource, mode if isinstance(mode, str) else None, full_url if isinstance(full_url, str) else None


def next_link(bundle: Resource) -> str | None:
    for link in _list(bundle.get("link"), "link"):
        if isinstance(link, Mapping) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None
