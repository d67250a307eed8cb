"""GET /health-record/attachments/{token}: a report's PDF, behind a short-lived signed link.

The link is issued with the report (`Attachment.downloadUrl`) to the account that may read it, and
is the permission itself, so that `wx.downloadFile` can fetch it without headers. Before anything
is sent the profile must still be that account's, with its health-data consent, and still be
linked to the same HIS patient. The document is read from the HIS each time, never cached (here,
or by anyone on the way: `Cache-Control: no-store`), and every download is audited.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from datasources.db import audit
from datasources.db.audit import AuditEvent
from datasources.db.tables import PatientProfile, ProfileConsent
from datasources.his.resilience import Deadline, HisUnavailable
from datasources.identity import profiles as store
from datasources.signed_links import ExpiredLink, InvalidLink
from domain.audit import ActorKind, AuditResult

logger = logging.getLogger("hospital_bff.downloads")

ACTION = "health_record.attachment.download"
# Served on our own origin: only types that cannot run script there.
ALLOWED_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})
NO_STORE = {
    "Cache-Control": "no-store, private",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _refused(status: int, code: str, message: str, **headers: str) -> Response:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers={**NO_STORE, **headers})


async def _audit(request: Request, res: Any, *, account_id: int | None, profile_id: int | None, ok: bool) -> None:
    event = AuditEvent(
        actor_kind=ActorKind.PATIENT if account_id is not None else ActorKind.ANONYMOUS,
        actor_id=None if account_id is None else str(account_id),
        action=ACTION,
        result=AuditResult.OK if ok else AuditResult.DENIED,
        target_type="PatientProfile",
        target_id=None if profile_id is None else str(profile_id),
        request_id=request.scope.get("state", {}).get("request_id"),
        client_address=request.client.host if request.client else None,
    )
    async with res.sessions() as db, db.begin():
        await audit.record(db, event=event, at=res.clock())


async def attachment_download(request: Request) -> Response:
    res = request.app.state.resources
    now = res.clock()
    try:
        claims = res.attachment_links.verify(request.path_params["token"], now=now)
    except ExpiredLink:
        return _refused(410, "LINK_EXPIRED", "下载链接已过期，请回到报告页重新打开 (the link has expired)")
    except InvalidLink:
        await _audit(request, res, account_id=None, profile_id=None, ok=False)
        return _refused(404, "NOT_FOUND", "没有这个文件 (no such file)")
    profile: PatientProfile | None
    consents: list[ProfileConsent]
    async with res.sessions() as db:
        try:
            profile, consents = await store.profile_with_consents(
                db, account_id=claims.account_id, profile_id=claims.profile_id
            )
        except store.ProfileNotFound:
            profile, consents = None, []
    if profile is None or not store.consent_granted(consents) or profile.his_patient_id != claims.patient_id:
        await _audit(request, res, account_id=claims.account_id, profile_id=claims.profile_id, ok=False)
        return _refused(403, "FORBIDDEN", "无权访问 (not allowed)")
    try:
        content = await res.his.attachment(
            claims.patient_id,
            claims.report_id,
            claims.index,
            deadline=Deadline.after(res.settings.his_deadline_ms / 1000),
        )
    except HisUnavailable:
        return _refused(
            503,
            "HIS_UNAVAILABLE",
            "医院信息系统暂时无法访问，请稍后再试 (the hospital information system is not answering; try again later)",
            **{"Retry-After": "30"},
        )
    content_type = (content.content_type.split(";")[0].strip().lower() if content else "") or ""
    if content is None or content_type not in ALLOWED_TYPES:
        return _refused(404, "NOT_FOUND", "没有这个文件 (no such file)")
    if content_type == "application/pdf" and not content.data.startswith(b"%PDF-"):
        logger.warning("HIS attachment announced as PDF is not one; not served")
        return _refused(404, "NOT_FOUND", "没有这个文件 (no such file)")
    await _audit(request, res, account_id=claims.account_id, profile_id=claims.profile_id, ok=True)
    extension = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}[content_type]
    title = (content.title or "report").replace("/", "-")[:80]
    disposition = f"inline; filename=\"report.{extension}\"; filename*=UTF-8''{quote(title)}.{extension}"
    return Response(
        content.data,
        media_type=content_type,
        headers={**NO_STORE, "Content-Disposition": disposition, "Content-Security-Policy": "sandbox"},
    )
