"""Permission classes declared on fields and mutations.

They raise instead of returning False so that the error carries the right code: UNAUTHENTICATED
when no valid session was presented, FORBIDDEN when the session lacks the right.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from domain.enums import AdminRole
from schema.context import Info
from schema.errors import UNAVAILABLE_MESSAGE, ClientError, ErrorCode


def not_signed_in(info: Info) -> ClientError:
    if info.context.viewer.session_unavailable:
        return ClientError(UNAVAILABLE_MESSAGE, ErrorCode.UNAVAILABLE)
    problem = info.context.viewer.session_problem
    detail = f" ({problem})" if problem else ""
    return ClientError(f"请先登录 (sign in first){detail}", ErrorCode.UNAUTHENTICATED)


def forbidden() -> ClientError:
    return ClientError("无权访问 (not allowed)", ErrorCode.FORBIDDEN)


class IsPatient(BasePermission):
    """A signed-in mini-program user."""

    message = "请先登录 (sign in first)"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        if viewer.is_patient:
            return True
        raise forbidden() if viewer.is_staff else not_signed_in(info)


class IsSignedIn(BasePermission):
    """Any valid session, patient or staff."""

    message = "请先登录 (sign in first)"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if info.context.viewer.account_id is not None:
            return True
        raise not_signed_in(info)


class IsDoctor(BasePermission):
    """A staff account with the DOCTOR role that is linked to its staff member (the one who takes consults)."""

    message = "无权访问 (not allowed)"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        if viewer.is_staff and AdminRole.DOCTOR in viewer.roles and viewer.staff_id is not None:
            return True
        raise forbidden() if viewer.account_id is not None else not_signed_in(info)


def staff_with(*roles: AdminRole) -> type[BasePermission]:
    """A permission class admitting staff who hold any of `roles` (SUPER_ADMIN always may)."""
    allowed = frozenset(roles) | {AdminRole.SUPER_ADMIN}

    class StaffWithRole(BasePermission):
        message = "无权访问 (not allowed)"

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            viewer = info.context.viewer
            if viewer.is_staff and viewer.roles & allowed:
                return True
            raise forbidden() if viewer.account_id is not None else not_signed_in(info)

    StaffWithRole.__name__ = "StaffWith" + "Or".join(sorted(r.value.title().replace("_", "") for r in allowed))
    return StaffWithRole
