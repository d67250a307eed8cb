"""Audit retention rules (MLPS 2.0 level 3 asks for at least six months of audit records)."""

from __future__ import annotations

from enum import StrEnum

# The database triggers enforce this floor whatever the configuration says.
MIN_RETENTION_DAYS = 183


class ActorKind(StrEnum):
    ANONYMOUS = "ANONYMOUS"
    PATIENT = "PATIENT"
    STAFF = "STAFF"
    SYSTEM = "SYSTEM"


class AuditResult(StrEnum):
    OK = "OK"
    DENIED = "DENIED"
    FAILED = "FAILED"
