"""FHIR R4 resources (decoded by resources.py) → our DTOs. Pure functions, no I/O.

Real servers send what they send: partial dates, units as text or as UCUM codes, interpretations
in several code systems, ranges given only as text, panels that group results through hasMember,
values split into components. The decoder has checked every type; what still cannot be read (an id
that is not a FHIR id, a date that is not a date, a quantity without a value) raises
`MalformedResource`, naming the field but never the value (values are health data and end up in
logs); the caller skips that one entry.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from datasources.his.fhir import resources as fhir
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

Found = fhir.AnyResource | fhir.Unreadable
R = TypeVar("R", bound=fhir.AnyResource)
Resolver = Callable[[str], Found | None]
Digest = Callable[[str], str]

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
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
_NO_QUANTITY = fhir.Quantity()
# The parts of a record that repeat are read once: the members of a panel share its time, each test
# its code, reference ranges and interpretation codes, every result its subject. Pure functions of
# immutable values.
_memo = functools.lru_cache(maxsize=4096)


class MalformedResource(ValueError):
    """A resource that cannot be read; the message names the field, never its value."""


def is_fhir_id(value: str) -> bool:
    return _FHIR_ID.fullmatch(value) is not None


# ---- primitives ----------------------------------------------------------------------------


def resource_id(resource: fhir.AnyResource) -> str:
    value = resource.id
    if value is None or not is_fhir_id(value):
        raise MalformedResource("id is missing or not a FHIR id")
    return value


def readable(found: Found, kind: type[R]) -> R:
    """`found` when it is a readable resource of `kind`, else MalformedResource saying why not."""
    if isinstance(found, fhir.Unreadable):
        raise MalformedResource(found.reason)
    if type(found) is not kind:
        raise MalformedResource(f"not a {kind.__struct_config__.tag}")
    return found


def parse_datetime(text: str | None, field: str, zone: ZoneInfo) -> datetime | None:
    """A FHIR date, dateTime or instant as an aware UTC datetime. Partial dates (2017, 2017-03,
    2017-03-02) and times without offset mean the start of that period in the hospital's zone."""
    return None if text is None else _datetime(text, field, zone)


@_memo
def _datetime(text: str, field: str, zone: ZoneInfo) -> datetime:
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


def parse_date(text: str | None, field: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10]) if len(text) >= 10 else None
    except ValueError:
        raise MalformedResource(f"{field} is not a date") from None


def parse_period(period: fhir.Period | None, field: str, zone: ZoneInfo) -> Period:
    if period is None:
        return Period()
    return Period(
        start=parse_datetime(period.start, f"{field}.start", zone),
        end=parse_datetime(period.end, f"{field}.end", zone),
    )


def codes_in(concept: fhir.CodeableConcept | None, *systems: str | None) -> list[str]:
    """Codes of `concept` in any of `systems` (None: codings that name no system)."""
    if concept is None:
        return []
    return [coding.code for coding in concept.coding if coding.code and coding.system in systems]


def concept_text(concept: fhir.CodeableConcept | None) -> str | None:
    if concept is None:
        return None
    return first_text(concept.text, *(coding.display for coding in concept.coding))


def reference_key(reference: fhir.Reference | None) -> str | None:
    """`Observation/r1` for every way of writing it (relative, absolute, versioned); `#id` stays."""
    ref = reference.reference if reference is not None else None
    if not ref:
        return None
    return normalise_reference(ref)


@_memo
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


def reference_id(reference: fhir.Reference | None, resource_type: str) -> str | None:
    key = reference_key(reference)
    if key and key.startswith(f"{resource_type}/"):
        return key.split("/", 1)[1]
    return None


# ---- Patient ---------------------------------------------------------------------------------


def _human_name(name: fhir.HumanName) -> str | None:
    if name.text and name.text.strip():
        return clean_text(name.text)
    family = name.family or ""
    given = [g for g in name.given if isinstance(g, str)]
    if not family and not given:
        return None
    # Chinese names are written family name first, without a space.
    if any("\u4e00" <= ch <= "\u9fff" for ch in family + "".join(given)):
        return clean_text(family + "".join(given))
    return clean_text(" ".join([*given, family]))


def parse_patient(resource: fhir.Patient, *, digest: Digest, resident_id_systems: frozenset[str]) -> HisPatient:
    patient_id = resource_id(resource)
    names = resource.name
    chosen = next((n for n in names if n.use == "official"), None) or next(
        (n for n in names if n.use in (None, "usual")), names[0] if names else None
    )
    resident_id = record_number = None
    for identifier in resource.identifier:
        value = identifier.value
        if not value:
            continue
        types = set(codes_in(identifier.type, V2_0203))
        if resident_id is None and (types & RESIDENT_ID_TYPES or identifier.system in resident_id_systems):
            resident_id = value.strip().upper()
        elif record_number is None and "MR" in types:
            record_number = value.strip()
    phones = sorted(
        (t for t in resource.telecom if t.system == "phone" and t.value),
        key=lambda t: (t.use != "mobile", 99 if t.rank is None else t.rank),
    )
    gender = resource.gender
    return HisPatient(
        id=patient_id,
        name=_human_name(chosen) if chosen else None,
        gender=gender if gender in ("male", "female", "other", "unknown") else None,  # type: ignore[arg-type]
        birth_date=parse_date(resource.birth_date, "birthDate"),
        resident_id_digest=digest(resident_id) if resident_id else None,
        resident_id_masked=mask_resident_id(resident_id) if resident_id else None,
        mobile_masked=mask_mobile(str(phones[0].value)) if phones else None,
        medical_record_number=record_number,
    )


# ---- Encounter -------------------------------------------------------------------------------


def parse_encounter(resource: fhir.Encounter, *, zone: ZoneInfo) -> HisEncounter:
    encounter_id = resource_id(resource)
    # R4: Encounter.class is a single Coding (not a CodeableConcept).
    class_code = resource.class_.code if resource.class_ else None
    history = [
        ClassPeriod(
            class_code=item.class_.code,
            kind=visit_kind(item.class_.code),
            period=parse_period(item.period, "classHistory.period", zone),
        )
        for item in resource.class_history
        if item.class_ and item.class_.code
    ]
    service_type = resource.service_type
    service_types = (service_type,) if isinstance(service_type, fhir.CodeableConcept) else service_type or ()
    locations = [loc.location.display if loc.location else None for loc in resource.location]
    provider = resource.service_provider.display if resource.service_provider else None
    return HisEncounter(
        id=encounter_id,
        class_code=class_code,
        kind=visit_kind(class_code),
        status=resource.status,
        period=parse_period(resource.period, "period", zone),
        department=first_text(*(concept_text(s) for s in service_types), *locations, provider),
        reason=first_text(*(concept_text(r) for r in resource.reason_code)),
        history=tuple(sorted(history, key=lambda h: h.period.start or datetime.min.replace(tzinfo=UTC))),
    )


# ---- Observation -----------------------------------------------------------------------------


def _quantity(quantity: fhir.Quantity, field: str) -> Quantity:
    if quantity.value is None:
        raise MalformedResource(f"{field}.value is missing")
    comparator = quantity.comparator
    if comparator not in (None, "<", "<=", ">=", ">"):
        raise MalformedResource(f"{field}.comparator is not one of < <= >= >")
    unit, key = _unit(quantity.unit, quantity.system, quantity.code)
    return Quantity(
        value=quantity.value,
        comparator=comparator,  # type: ignore[arg-type]  # checked above
        unit=unit,
        unit_key=key,
    )


@_memo
def _unit(text: str | None, system: str | None, code: str | None) -> tuple[str | None, str | None]:
    """(unit shown, unit key) of a quantity."""
    unit = clean_text(text)
    return unit or display_unit(system, code), unit_key(unit, system=system, code=code)


def display_unit(system: str | None, code: str | None) -> str | None:
    """A UCUM code shown as the unit when no unit text is given; "1" and annotations like [pH] are not units
    a patient reads."""
    if system != UCUM or not code or code == "1" or code.startswith("["):
        return None
    return code


def _years(age: fhir.Quantity | None) -> float | None:
    if age is None or age.value is None:
        return None
    unit = age.code or age.unit or "a"
    return age.value / 12 if unit in ("mo", "month", "months") else age.value


def _sexes(concepts: tuple[fhir.CodeableConcept, ...]) -> tuple[str, ...]:
    """ReferenceRange.appliesTo read as the sexes a range is for ("male" / "female")."""
    sexes: list[str] = []
    for concept in concepts:
        for code in codes_in(concept, SNOMED, "http://hl7.org/fhir/administrative-gender"):
            sexes.append(_SEXES.get(code, code))
        text = (concept_text(concept) or "").lower()
        if text in ("male", "female", "男", "女") and not sexes:
            sexes.append({"男": "male", "女": "female"}.get(text, text))
    return tuple(sexes)


@_memo
def _ranges(items: tuple[fhir.ObservationRange, ...]) -> tuple[ReferenceRange, ...]:
    ranges: list[ReferenceRange] = []
    for item in items:
        low, high = item.low, item.high
        # The unit is read from the low bound, or from the high one when there is no (or an empty) low.
        bound = low if low is not None and low != _NO_QUANTITY else high
        system, code = (bound.system, bound.code) if bound is not None else (None, None)
        unit = clean_text(bound.unit if bound is not None else None) or display_unit(system, code)
        age = item.age
        ranges.append(
            ReferenceRange(
                low=low.value if low is not None else None,
                high=high.value if high is not None else None,
                unit=unit,
                unit_key=unit_key(unit, system=system, code=code),
                text=clean_text(item.text),
                meaning=next(iter(codes_in(item.type, RANGE_MEANING, None)), None),
                age_low=_years(age.low) if age is not None else None,
                age_high=_years(age.high) if age is not None else None,
                applies_to=_sexes(item.applies_to) if item.applies_to else (),
            )
        )
    return tuple(ranges)


def _value(item: fhir.ObservationValue, field: str) -> tuple[Quantity | None, str | None]:
    """(quantity, text) of value[x]; dataAbsentReason explains a missing value."""
    if item.value_quantity is not None:
        return _quantity(item.value_quantity, f"{field}.valueQuantity"), None
    if item.value_integer is not None:
        return Quantity(value=item.value_integer), None
    if item.value_string is not None:
        return None, clean_text(item.value_string)
    if item.value_codeable_concept is not None:
        return None, concept_text(item.value_codeable_concept)
    if item.value_boolean is not None:
        return None, "是" if item.value_boolean else "否"
    if item.value_range is not None:
        low, high = item.value_range.low, item.value_range.high
        return None, f"{_bound(low)}–{_bound(high)}"
    if item.data_absent_reason is not None:
        return None, first_text(concept_text(item.data_absent_reason), "无结果")
    return None, None


def _bound(quantity: fhir.Quantity | None) -> str:
    return "" if quantity is None or quantity.value is None else f"{quantity.value:g}"


def _interpretation(item: fhir.ObservationValue) -> tuple[Any, str | None]:
    return _interpretation_of(item.interpretation) if item.interpretation else (None, None)


@_memo
def _interpretation_of(concepts: tuple[fhir.CodeableConcept, ...]) -> tuple[Any, str | None]:
    codes = [code for c in concepts for code in codes_in(c, V3_INTERPRETATION, None)]
    return flag_from_interpretation(codes), first_text(*(c.text for c in concepts))


@_memo
def _naming(concept: fhir.CodeableConcept | None) -> tuple[str | None, str | None, str | None]:
    """(code, code system, name) of an Observation.code: its LOINC coding when there is one."""
    codings = concept.coding if concept is not None else ()
    primary = next((c for c in codings if c.system == LOINC), codings[0] if codings else None)
    name = first_text(concept.text if concept is not None else None, *(c.display for c in codings))
    return (primary.code, primary.system, name) if primary else (None, None, name)


def parse_observation(resource: fhir.Observation, *, zone: ZoneInfo) -> tuple[list[HisResult], list[str]]:
    """The results an Observation carries (itself and its components), and its hasMember references."""
    observation_id = resource_id(resource)
    code, code_system, his_name = _naming(resource.code)
    effective = (
        parse_datetime(resource.effective_date_time, "effectiveDateTime", zone)
        or parse_datetime(resource.effective_instant, "effectiveInstant", zone)
        or parse_period(resource.effective_period, "effectivePeriod", zone).start
        or parse_datetime(resource.issued, "issued", zone)
    )
    status = resource.status
    note = first_text(*(n.text for n in resource.note)) if resource.note else None
    members = [key for key in (reference_key(m) for m in resource.has_member) if key]
    results: list[HisResult] = []
    quantity, text = _value(resource, "Observation")
    components = resource.component
    flag, flag_text = _interpretation(resource)
    if quantity is not None or text is not None or not (components or members):
        results.append(
            HisResult(
                id=observation_id,
                code=code,
                code_system=code_system,
                his_name=his_name,
                quantity=quantity,
                value_text=text,
                ranges=_ranges(resource.reference_range) if resource.reference_range else (),
                reported_flag=flag,
                interpretation_text=flag_text,
                status=status,
                effective_at=effective,
                note=note,
            )
        )
    for n, component in enumerate(components, 1):
        c_quantity, c_text = _value(component, "component")
        if c_quantity is None and c_text is None:
            continue
        first = component.code.coding[0] if component.code and component.code.coding else None
        c_flag, c_flag_text = _interpretation(component)
        results.append(
            HisResult(
                id=f"{observation_id}.{n}",
                code=first.code if first else None,
                code_system=first.system if first else None,
                his_name=concept_text(component.code),
                quantity=c_quantity,
                value_text=c_text,
                ranges=_ranges(component.reference_range) if component.reference_range else (),
                reported_flag=c_flag or (flag if len(components) == 1 else None),
                interpretation_text=c_flag_text or flag_text,
                status=status,
                effective_at=effective,
                note=note,
            )
        )
    return results, members


# ---- DiagnosticReport -------------------------------------------------------------------------


def _attachments(forms: tuple[fhir.Attachment, ...]) -> tuple[Attachment, ...]:
    found = []
    for index, item in enumerate(forms):
        data = item.data
        size = item.size
        if not isinstance(size, int) or isinstance(size, bool):
            size = None
        if size is None and data:
            compact = "".join(data.split())  # base64 may be wrapped over lines
            size = len(compact) * 3 // 4 - compact[-2:].count("=")
        found.append(
            Attachment(
                index=index,
                content_type=item.content_type,
                title=clean_text(item.title),
                size=size,
                language=item.language,
                url=item.url,
                inline=bool(data),
            )
        )
    return tuple(found)


def _collect_results(
    refs: list[str],
    contained: dict[str, Found],
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
            own, members = parse_observation(readable(found, fhir.Observation), zone=zone)
        except MalformedResource as problem:
            on_skipped(ref, str(problem))
            missing += 1
            continue
        results.extend(own)
        pending.extend((member, depth + 1) for member in reversed(members))
    return results, missing


def parse_report(
    resource: fhir.DiagnosticReport,
    *,
    resolve: Resolver,
    zone: ZoneInfo,
    on_skipped: Callable[[str, str], None] = lambda ref, reason: None,
) -> HisReport:
    """`resolve` finds a referenced resource (included in the search, contained, or fetched);
    results it cannot find, or cannot read, are counted in `missing_results`."""
    report_id = resource_id(resource)
    contained = fhir.contained_by_id(resource.contained) if resource.contained else {}
    refs = [key for key in (reference_key(r) for r in resource.result) if key]
    results, missing = _collect_results(refs, contained, resolve, zone, on_skipped)
    category = resource.category
    categories = (category,) if isinstance(category, fhir.CodeableConcept) else category
    sections = [code for c in categories for code in codes_in(c, V2_0074, None)]
    classification = classify_report(sections, has_results=bool(results))
    code = resource.code
    code_codings = code.coding if code is not None else ()
    primary = next((c for c in code_codings if c.system == LOINC), code_codings[0] if code_codings else None)
    return HisReport(
        id=report_id,
        kind=classification.kind,
        section=classification.section,
        section_label=classification.section_label,
        code=primary.code if primary else None,
        code_system=primary.system if primary else None,
        his_title=first_text(code.text if code is not None else None, *(c.display for c in code_codings)),
        status=resource.status,
        encounter_id=reference_id(resource.encounter, "Encounter"),
        effective_at=parse_datetime(resource.effective_date_time, "effectiveDateTime", zone)
        or parse_period(resource.effective_period, "effectivePeriod", zone).start,
        issued_at=parse_datetime(resource.issued, "issued", zone),
        conclusion=first_text(resource.conclusion, *(concept_text(c) for c in resource.conclusion_code)),
        performer=first_text(*(p.display for p in (*resource.performer, *resource.results_interpreter))),
        results=tuple(results),
        missing_results=missing,
        attachments=_attachments(resource.presented_form),
    )


def subject_is(resource: Found, patient_id: str) -> bool:
    """The resource is about this patient (its subject, or Task.for, refers to Patient/<id>)."""
    subject = getattr(resource, "for_" if type(resource) is fhir.Task else "subject", None)
    if subject is None:
        return False
    expected = f"Patient/{patient_id}"
    return subject.reference == expected or reference_key(subject) == expected


def decode_inline(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        raise MalformedResource("presentedForm.data is not base64") from None


# ---- Task (visit progress) ---------------------------------------------------------------------


def parse_task(resource: fhir.Task, *, zone: ZoneInfo) -> tuple[str | None, StepProgress] | None:
    """(encounter id, step progress) of a visit-step Task; None for Tasks of other kinds."""
    resource_id(resource)
    steps = [c for c in codes_in(resource.code, VISIT_STEP_SYSTEM) if c in VisitStep.__members__]
    if not steps:
        return None
    status = resource.status
    if not status:
        raise MalformedResource("status is missing")
    location = None
    if resource.location is not None:
        contained = fhir.contained_by_id(resource.contained) if resource.contained else {}
        place = contained.get(reference_key(resource.location) or "")
        if isinstance(place, fhir.Location):
            location = StepLocation(
                building_floor=clean_text(place.part_of.display if place.part_of else None),
                room=clean_text(place.name),
                directions=clean_text(place.description),
            )
        else:
            location = StepLocation(room=clean_text(resource.location.display))
    queue = None
    for identifier in resource.identifier:
        if identifier.system == QUEUE_NUMBER_SYSTEM:
            queue = identifier.value
    ahead = None
    for output in resource.output:
        if WAITING_AHEAD in codes_in(output.type, VISIT_STEP_SYSTEM, None):
            value = output.value_integer
            if isinstance(value, int) and not isinstance(value, bool):
                ahead = value
    period = parse_period(resource.execution_period, "executionPeriod", zone)
    return reference_id(resource.encounter, "Encounter"), StepProgress(
        step=VisitStep(steps[0]),
        status=status,
        started_at=period.start,
        completed_at=period.end,
        location=location,
        queue_number=queue,
        waiting_ahead=ahead,
        note=concept_text(resource.business_status),
    )
