"""Persisted queries: Apollo's automatic persisted queries (APQ) and trusted documents.

APQ (`extensions.persistedQuery = {"version": 1, "sha256Hash": ...}`): a client sends only the
hash; an unknown hash answers PERSISTED_QUERY_NOT_FOUND, and the client sends the hash with the
document once, which registers it in the shared cache (`apq:<hash>`, Redis when configured). A
hash-only request is small enough for GET, so a CDN can cache public queries.

Trusted documents (TRUSTED_DOCUMENTS = a manifest `{sha256: document}` made by
`python -m cli trusted-documents` from `operations/*.graphql`): only those documents run, sent by
hash or in full; anything else answers OPERATION_NOT_TRUSTED, and APQ registers nothing new.
The hash is the SHA-256 of the document's exact UTF-8 text, as the mini-program bundles it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from datasources.cache import Cache
from schema.errors import ErrorCode

logger = logging.getLogger("hospital_bff.persisted_queries")

APQ_PREFIX = "apq:"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class PersistedQueryProblem(Exception):
    """The request's document cannot be run; the message and code go to the client as they are."""

    def __init__(self, message: str, code: ErrorCode) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def document_hash(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def load_manifest(path: Path) -> dict[str, str]:
    """Read a trusted-documents manifest, refusing one whose hashes do not match its documents."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the trusted-documents manifest {path}: {exc}") from exc
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise ValueError(f"{path} must be a JSON object of sha256 hash -> document")
    for digest, document in raw.items():
        if document_hash(document) != digest:
            raise ValueError(f"{path}: the hash {digest} does not match its document")
    return dict(raw)


def build_manifest(directory: Path) -> dict[str, str]:
    """`{sha256: document}` of every `*.graphql` file in `directory`, in file-name order."""
    documents = [path.read_text(encoding="utf-8") for path in sorted(directory.glob("*.graphql"))]
    return {document_hash(document): document for document in documents}


class PersistedQueries:
    """Turns a request's `query` and `extensions` into the document to run, or a PersistedQueryProblem."""

    def __init__(
        self, cache: Cache, *, apq_enabled: bool, ttl_seconds: int, trusted: Mapping[str, str] | None = None
    ) -> None:
        self._cache = cache
        self._apq = apq_enabled
        self._ttl = ttl_seconds
        self._trusted = trusted

    async def document(self, query: str | None, extensions: Mapping[str, Any] | None) -> str | None:
        """The document to run; None when the request has neither a document nor a persisted query."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            if query is not None and self._trusted is not None and document_hash(query) not in self._trusted:
                raise _not_trusted()
            return query
        digest = _requested_hash(persisted)
        if self._trusted is not None:
            return self._from_manifest(self._trusted, digest, query)
        if not self._apq:
            raise PersistedQueryProblem("PersistedQueryNotSupported", ErrorCode.PERSISTED_QUERY_NOT_SUPPORTED)
        if query is None:
            stored = await self._load(digest)
            if stored is None:
                raise PersistedQueryProblem("PersistedQueryNotFound", ErrorCode.PERSISTED_QUERY_NOT_FOUND)
            return stored
        if document_hash(query) != digest:
            raise PersistedQueryProblem("provided sha does not match query", ErrorCode.BAD_USER_INPUT)
        await self._store(digest, query)
        return query

    @staticmethod
    def _from_manifest(trusted: Mapping[str, str], digest: str, query: str | None) -> str:
        if query is not None and document_hash(query) != digest:
            raise PersistedQueryProblem("provided sha does not match query", ErrorCode.BAD_USER_INPUT)
        document = trusted.get(digest)
        if document is None:
            raise _not_trusted()
        return document

    async def _load(self, digest: str) -> str | None:
        try:
            stored = await self._cache.get(APQ_PREFIX + digest)
        except Exception:
            # The client answers a miss by sending the document: slower, never wrong.
            logger.warning("persisted query store unreachable; answering not found", exc_info=True)
            return None
        return stored.decode() if stored is not None else None

    async def _store(self, digest: str, document: str) -> None:
        try:
            await self._cache.set(APQ_PREFIX + digest, document.encode(), ttl_seconds=self._ttl)
        except Exception:
            logger.warning("persisted query store unreachable; the document runs unregistered", exc_info=True)


def _requested_hash(persisted: Any) -> str:
    if not isinstance(persisted, Mapping) or persisted.get("version") != 1:
        raise PersistedQueryProblem(
            "extensions.persistedQuery must be {version: 1, sha256Hash: ...}", ErrorCode.BAD_USER_INPUT
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256.match(digest):
        raise PersistedQueryProblem(
            "extensions.persistedQuery.sha256Hash must be 64 lower-case hex digits", ErrorCode.BAD_USER_INPUT
        )
    return digest


def _not_trusted() -> PersistedQueryProblem:
    return PersistedQueryProblem(
        "only the mini-program's trusted documents run on this server", ErrorCode.OPERATION_NOT_TRUSTED
    )
