"""The FHIR R4 resources the adapter reads, as typed msgspec structs decoded straight from the HIS's JSON.

Only the elements the adapter uses are declared; everything else in a resource is skipped while
decoding, without building a Python object for it. The types are checked by the decoder, in C, so the
parser (parse.py) reads attributes instead of checking every value of a few hundred results again.

A search Bundle is decoded in one call. When some entry does not fit (a wrong type anywhere in it,
or a resource type we do not read), it is decoded again keeping its entries as raw JSON, and each
entry is decoded on its own: the one that does not fit becomes an `Unreadable` naming its type, id
and the reason, and never fails the page. Decoding errors name the element's path and the expected
type, never a value (values are health data, and reasons end up in logs).

Some servers bend the specification in ways that are safe to read, and these are read: JSON nulls
in place of absent elements (dropped), DiagnosticReport.category as one object instead of a list,
Encounter.serviceType as a list (as in R5). An element of the wrong type is not guessed at: the
resource is unreadable, even when the element is one the parser might not have needed.
"""

from __future__ import annotations

from typing import Any, get_args

import msgspec


class Element(msgspec.Struct, frozen=True, gc=False, rename="camel"):
    """Attributes in snake_case, read from FHIR's camelCase names. Unknown elements are skipped. Not
    tracked by the garbage collector: a decoded tree holds no reference cycle."""


class Coding(Element, frozen=True):
    system: str | None = None
    code: str | None = None
    display: str | None = None


class CodeableConcept(Element, frozen=True):
    coding: tuple[Coding, ...] = ()
    text: str | None = None


class Reference(Element, frozen=True):
    reference: str | None = None
    display: str | None = None


class Quantity(Element, frozen=True):
    """Quantity, and its profiles Age and SimpleQuantity."""

    value: float | None = None
    comparator: str | None = None
    unit: str | None = None
    system: str | None = None
    code: str | None = None


class Range(Element, frozen=True):
    low: Quantity | None = None
    high: Quantity | None = None


class Period(Element, frozen=True):
    start: str | None = None
    end: str | None = None


class Annotation(Element, frozen=True):
    text: str | None = None


class Attachment(Element, frozen=True):
    content_type: str | None = None
    language: str | None = None
    data: str | None = None
    url: str | None = None
    title: str | None = None
    # unsignedInt in R4, a string (integer64) in R5: read when it is a number, else left out.
    size: Any = None


class Identifier(Element, frozen=True):
    system: str | None = None
    value: str | None = None
    type: CodeableConcept | None = None


class HumanName(Element, frozen=True):
    use: str | None = None
    text: str | None = None
    family: str | None = None
    given: tuple[Any, ...] = ()  # anything but a string is left out of the name


class ContactPoint(Element, frozen=True):
    system: str | None = None
    value: str | None = None
    use: str | None = None
    rank: int | None = None


class ObservationRange(Element, frozen=True):
    """Observation.referenceRange."""

    low: Quantity | None = None
    high: Quantity | None = None
    type: CodeableConcept | None = None
    applies_to: tuple[CodeableConcept, ...] = ()
    age: Range | None = None
    text: str | None = None


class ObservationValue(Element, frozen=True):
    """What an Observation and each of its components carry: a code, a value[x] (or why it is absent),
    interpretations and reference ranges."""

    code: CodeableConcept | None = None
    value_quantity: Quantity | None = None
    value_integer: float | None = None  # an integer in FHIR; read as a number
    value_string: str | None = None
    value_codeable_concept: CodeableConcept | None = None
    value_boolean: bool | None = None
    value_range: Range | None = None
    data_absent_reason: CodeableConcept | None = None
    interpretation: tuple[CodeableConcept, ...] = ()
    reference_range: tuple[ObservationRange, ...] = ()


class ObservationComponent(ObservationValue, frozen=True):
    pass


class Resource(Element, frozen=True, tag_field="resourceType"):
    """Every resource read here: tagged by resourceType."""

    id: str | None = None


class Observation(ObservationValue, frozen=True, tag_field="resourceType", tag="Observation"):
    # A Resource too (msgspec structs have one base with fields): its id is declared here.
    id: str | None = None
    status: str | None = None
    subject: Reference | None = None
    effective_date_time: str | None = None
    effective_instant: str | None = None
    effective_period: Period | None = None
    issued: str | None = None
    has_member: tuple[Reference, ...] = ()
    component: tuple[ObservationComponent, ...] = ()
    note: tuple[Annotation, ...] = ()


class Location(Resource, frozen=True, tag="Location"):
    name: str | None = None
    description: str | None = None
    part_of: Reference | None = None


class DiagnosticReport(Resource, frozen=True, tag="DiagnosticReport"):
    status: str | None = None
    # A list in R4; some servers send a single object.
    category: tuple[CodeableConcept, ...] | CodeableConcept = ()
    code: CodeableConcept | None = None
    subject: Reference | None = None
    encounter: Reference | None = None
    effective_date_time: str | None = None
    effective_period: Period | None = None
    issued: str | None = None
    performer: tuple[Reference, ...] = ()
    results_interpreter: tuple[Reference, ...] = ()
    result: tuple[Reference, ...] = ()
    conclusion: str | None = None
    conclusion_code: tuple[CodeableConcept, ...] = ()
    presented_form: tuple[Attachment, ...] = ()
    contained: tuple[msgspec.Raw, ...] = ()  # decoded one by one, see `contained_by_id`


class Patient(Resource, frozen=True, tag="Patient"):
    name: tuple[HumanName, ...] = ()
    identifier: tuple[Identifier, ...] = ()
    telecom: tuple[ContactPoint, ...] = ()
    gender: str | None = None
    birth_date: str | None = None


class ClassHistory(Element, frozen=True):
    class_: Coding | None = msgspec.field(default=None, name="class")
    period: Period | None = None


class EncounterLocation(Element, frozen=True):
    location: Reference | None = None


class Encounter(Resource, frozen=True, tag="Encounter"):
    status: str | None = None
    class_: Coding | None = msgspec.field(default=None, name="class")  # one Coding in R4
    class_history: tuple[ClassHistory, ...] = ()
    # One CodeableConcept in R4; some servers send a list (as R5 does).
    service_type: CodeableConcept | tuple[CodeableConcept, ...] | None = None
    subject: Reference | None = None
    period: Period | None = None
    location: tuple[EncounterLocation, ...] = ()
    service_provider: Reference | None = None
    reason_code: tuple[CodeableConcept, ...] = ()


class TaskOutput(Element, frozen=True):
    type: CodeableConcept | None = None
    value_integer: Any = None  # only an integer is read


class Task(Resource, frozen=True, tag="Task"):
    status: str | None = None
    code: CodeableConcept | None = None
    for_: Reference | None = msgspec.field(default=None, name="for")
    encounter: Reference | None = None
    owner: Reference | None = None
    location: Reference | None = None
    identifier: tuple[Identifier, ...] = ()
    output: tuple[TaskOutput, ...] = ()
    execution_period: Period | None = None
    business_status: CodeableConcept | None = None
    contained: tuple[msgspec.Raw, ...] = ()


class OutcomeIssue(Element, frozen=True):
    severity: str | None = None
    code: str | None = None


class OperationOutcome(Resource, frozen=True, tag="OperationOutcome"):
    issue: tuple[OutcomeIssue, ...] = ()


AnyResource = Observation | DiagnosticReport | Patient | Encounter | Task | Location | OperationOutcome


class Unreadable(msgspec.Struct, frozen=True, gc=False):
    """A resource that did not decode: its type and id when they can be read, and why (no values)."""

    kind: str | None
    id: str | None
    reason: str


class EntrySearch(Element, frozen=True):
    mode: str | None = None


class BundleEntry(Element, frozen=True):
    full_url: str | None = None
    resource: AnyResource | None = None
    search: EntrySearch | None = None


class Bundle(Element, frozen=True, tag_field="resourceType", tag="Bundle"):
    """A search Bundle, every entry decoded: one call, for an answer in which every entry fits."""

    entry: tuple[BundleEntry, ...] | None = ()  # null: no entries, as some servers write it
    link: Any = ()  # only a well-formed `next` link is followed; anything else in it is ignored


class RawBundle(Element, frozen=True, tag_field="resourceType", tag="Bundle"):
    """The same Bundle with its entries kept raw, to be decoded one by one."""

    entry: tuple[msgspec.Raw, ...] | None = ()
    link: Any = ()


Entry = tuple[AnyResource | Unreadable, str | None, str | None]  # (resource, search mode, fullUrl)


class SearchPage(msgspec.Struct, frozen=True, gc=False):
    """One page of a search's answer: its entries, and the URL of the next page, if any."""

    entries: list[Entry]
    next_url: str | None


# The resourceType of each struct, as its tag says (what the decoder matched in the JSON).
_TYPE_NAMES: dict[type, str] = {t: str(t.__struct_config__.tag) for t in get_args(AnyResource)}


def type_name(resource: AnyResource | Unreadable) -> str | None:
    """The resourceType of a decoded resource, or of an unreadable one as far as it could be read."""
    return resource.kind if isinstance(resource, Unreadable) else _TYPE_NAMES[type(resource)]


_bundle = msgspec.json.Decoder(Bundle)
_raw_bundle = msgspec.json.Decoder(RawBundle)
_entry = msgspec.json.Decoder(BundleEntry)
_resource = msgspec.json.Decoder(AnyResource)


def decode_search(data: bytes) -> SearchPage:
    """The entries of a search Bundle and its next page's URL; ValueError (msgspec.DecodeError) when
    the answer is not a Bundle. When some entry does not fit, the entries are decoded one by one."""
    try:
        bundle = _bundle.decode(data)
    except msgspec.ValidationError:
        raw = _raw_bundle.decode(data)
        return SearchPage(entries=_entries(raw.entry or ()), next_url=_next_url(raw.link))
    found = [_as_entry(entry.resource, entry) for entry in bundle.entry or () if entry.resource is not None]
    return SearchPage(entries=found, next_url=_next_url(bundle.link))


def _as_entry(resource: AnyResource, entry: BundleEntry) -> Entry:
    return resource, entry.search.mode if entry.search else None, entry.full_url


def _next_url(links: Any) -> str | None:
    for link in links if isinstance(links, list) else ():
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


def _entries(raws: tuple[msgspec.Raw, ...]) -> list[Entry]:
    """(resource, search mode, fullUrl) of every entry that has a resource, one entry at a time."""
    found: list[Entry] = []
    for raw in raws:
        try:
            entry = _entry.decode(raw)
        except msgspec.ValidationError:
            loose = _loose(raw, "resource")
            if loose is not None:
                resource, entry_object = loose
                search = entry_object.get("search")
                mode = search.get("mode") if isinstance(search, dict) else None
                full_url = entry_object.get("fullUrl")
                found.append(
                    (
                        resource,
                        mode if isinstance(mode, str) else None,
                        full_url if isinstance(full_url, str) else None,
                    )
                )
            continue
        if entry.resource is not None:
            found.append(_as_entry(entry.resource, entry))
    return found


def decode_resource(data: bytes | msgspec.Raw) -> AnyResource | Unreadable:
    """One resource; ValueError when `data` is not JSON, or not an object with a resourceType."""
    try:
        return _resource.decode(data)
    except msgspec.ValidationError:
        loose = _loose(data, None)
        if loose is None or (isinstance(loose[0], Unreadable) and loose[0].kind is None):
            raise ValueError("not a FHIR resource") from None
        return loose[0]


def contained_by_id(raws: tuple[msgspec.Raw, ...]) -> dict[str, AnyResource | Unreadable]:
    """Contained resources by their local reference (`#id`); those without an id cannot be referred to."""
    found: dict[str, AnyResource | Unreadable] = {}
    for raw in raws:
        try:
            resource = decode_resource(raw)
        except ValueError:
            continue
        if resource.id is not None:
            found[f"#{resource.id}"] = resource
    return found


_READ = frozenset(_TYPE_NAMES.values())


def _loose(data: bytes | msgspec.Raw, key: str | None) -> tuple[AnyResource | Unreadable, dict[str, Any]] | None:
    """After `data` (a resource, or the entry holding it under `key`) did not decode: its resource,
    when only something around it was wrong (an entry's fullUrl that is not a string...), else an
    `Unreadable` with the resource's type and id as far as they can be read and the decoder's reason.
    Also the JSON object read. None when there is no resource."""
    value = msgspec.json.decode(data)
    if not isinstance(value, dict):
        return None
    resource = value.get(key) if key else value
    if not isinstance(resource, dict):
        return None
    try:
        return msgspec.convert(_without_nulls(resource), AnyResource), value
    except msgspec.ValidationError as error:
        kind, ident = resource.get("resourceType"), resource.get("id")
        unknown = isinstance(kind, str) and kind not in _READ
        reason = f"{kind} is not a resource read here" if unknown else str(error)
        return Unreadable(
            kind=kind if isinstance(kind, str) else None, id=ident if isinstance(ident, str) else None, reason=reason
        ), value


def _without_nulls(value: Any) -> Any:
    """`value` without JSON nulls: FHIR JSON has none in place of an absent element, but some servers
    write them, and they mean nothing else. Only on the slow path, after the typed decoding failed."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value if v is not None]
    return value
