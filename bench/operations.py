"""The operations the HTTP benchmark sends: what the mini-program asks at peak hours."""

from __future__ import annotations

import json

# Every module of the homepage, as the mini-program asks for it in one request (about 400 fields).
_LINK = "kind target departmentId staffId"
_PERIOD = "period { key label startsAt endsAt comparedStartsAt comparedEndsAt }"
_COMMON = f"""rank score reason
  inputs {{ consults consultsBefore heat reviews positiveReviews positiveRate averageRating bayesianRating
           completed settled completionRate }}
  registrationLink {{ {_LINK} }}"""
_DEPARTMENT = "department { id name }"
_STAFF = "staffMember { id name title department { id name } stats { acceptedRecent } }"
_TEAM = "team { id name leader { id name } department { id name } }"
_ENTRY = f"""{_COMMON}
  ... on DepartmentRankingEntry {{ {_DEPARTMENT} }}
  ... on StaffRankingEntry {{ {_STAFF} }}
  ... on TeamRankingEntry {{ {_TEAM} }}"""
HOMEPAGE = f"""query Homepage {{
  homepage {{
    variant
    theme {{ tokens {{ name value description }} }}
    layout {{ compact fontScale modules }}
    featuredDepartments {{ position imageUrl blurb department {{ id name }} registrationLink {{ {_LINK} }} }}
    consultZone {{ services {{ service title subtitle entryText requirements fromPrice {{ cents text }}
                              providerCount }} }}
    entries {{ kind title iconUrl link {{ kind target }} }}
    articles {{ category label articles {{ id title publishedAt categoryLabel }} }}
    goldBoard {{ {_PERIOD} computedAt departmentsDefinition staffDefinition
                departments {{ {_COMMON} {_DEPARTMENT} }} staff {{ {_COMMON} {_STAFF} }} }}
    boards {{ board title definition computedAt {_PERIOD} entries {{ {_ENTRY} }} }}
  }}
}}"""

STAFF_LIST = """query StaffList {
  staff(first: 20) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id name role roleLabel title
      department { id name }
      services { service price { cents text } }
      registrationLink { kind target departmentId staffId }
      stats { windowDays acceptedRecent acceptedAllTime reviewCount positiveReviewCount positiveRate
              positiveRateText avgResponseMinutes }
    } }
  }
}"""

HEALTH_RECORD = """query HealthRecord($id: ID!) {
  healthRecord(profileId: $id) {
    stale asOf
    basicInfo { maskedName gender age idNumber hisPatientId outpatientVisits emergencyVisits inpatientStays }
    reports(first: 20) { totalCount pageInfo { hasNextPage endCursor }
      nodes { id kind kindLabel title visit visitLabel effectiveAt abnormalCount resultCount } }
    indicators(abnormalOnly: true, first: 10) {
      name unit trendAvailable latest { valueText flagSymbol flagLabel } }
  }
}"""

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
