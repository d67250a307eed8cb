"""The operations the HTTP benchmark sends: what the mini-program asks at peak hours."""

from __future__ import annotations

import json
from pathlib import Path

# The mini-program's own documents (operations/, the trusted-documents manifest's source): what a
# production server in trusted-documents mode runs at all.
_OPERATIONS = Path(__file__).resolve().parent.parent / "operations"
HOMEPAGE = (_OPERATIONS / "Homepage.graphql").read_text(encoding="utf-8")  # every module, ~470 fields
STAFF_LIST = (_OPERATIONS / "StaffList.graphql").read_text(encoding="utf-8")
STAFF_LIST_VARIABLES: dict[str, object] = {"first": 20}
HEALTH_RECORD = (_OPERATIONS / "HealthRecord.graphql").read_text(encoding="utf-8")


def health_record_variables(profile_id: str) -> dict[str, object]:
    return {"profileId": profile_id, "first": 20}


DEV_LOGIN = "mutation DevLogin { devLogin(demoPatient: 1) { token } }"
ME = "query Me { me { profiles { id } } }"
CONSENT_DOCUMENT = "query ConsentDocument { consentDocument { version } }"
GIVE_CONSENT = """mutation GiveConsent($id: ID!, $version: String!) {
  giveHealthDataConsent(profileId: $id, version: $version) { __typename }
}"""


def body(query: str, variables: dict[str, object] | None = None) -> bytes:
    """The JSON body of a POST to /graphql, as the mini-program sends it."""
    document: dict[str, object] = {"query": query}
    if variables:
        document["variables"] = variables
    return json.dumps(document, separators=(",", ":")).encode()
