"""Our GraphQL-over-HTTP endpoint (https://graphql.github.io/graphql-over-http/draft/).

It runs the strawberry schema itself (`schema.execute`, so every schema extension applies) and owns
everything around it: content negotiation (`application/graphql-response+json` or
`application/json`), GET for queries, batching, CSRF prevention, persisted queries and trusted
documents, the response cache, 429 with `Retry-After`, and JSON errors with the request id for
everything that goes wrong outside execution (the log keeps the trace).

Status codes: 200 when execution started (errors or not); with `application/graphql-response+json`,
400 for a request that never reached execution (parse, validation, variables; no `data` key then).
With `application/json` such errors answer 200 with `data: null`, as older clients expect. Broken
HTTP requests answer 4xx in both: 400 (body or parameters), 405 (mutation over GET), 406 (Accept),
415 (content type), 429 (rate limited).
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import orjson
from graphql import GraphQLError, GraphQLSyntaxError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

import graphiql
from datasources.db.engine import Sessions
from datasources.his.resilience import Deadline
from datasources.identity.viewer import resolve_viewer
from datasources.response_cache import CachedResponse, response_cache_key
from loaders import SharedSession, make_loaders
from schema import schema_for
from schema.cache_control import CacheScope
from schema.context import Context
from schema.errors import ErrorCode, _is_unexpected
from server.metrics import RESPONSE_CACHE_LOOKUPS
from server.persisted_queries import PersistedQueries, PersistedQueryProblem, load_manifest
from server.security import csrf_blocked, graphiql_csp, media_type
from settings import ROOT, Settings

if TYPE_CHECKING:
    from app import Resources

logger = logging.getLogger("hospital_bff.http")

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
_CONTENT_TYPES = {GRAPHQL_RESPONSE_JSON: f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8", JSON: f"{JSON}; charset=utf-8"}
# A document that may hold a mutation (or subscription) never goes through the response cache; a
# false alarm (the word in a string) only means one uncached request.
_MAY_CHANGE_DATA = re.compile(r"\b(mutation|subscription)\b")
_CHARSET = re.compile(r"charset=\"?([^;\"\s]+)", re.IGNORECASE)


def _public_max_age(context: Context) -> tuple[int, frozenset[str]] | None:
    """(max-age, tags) when the schema's cache-control extension found the result public and cacheable."""
    policy = context.cache_policy
    if policy is None or policy.scope is not CacheScope.PUBLIC or policy.max_age <= 0:
        return None
    return policy.max_age, policy.tags


# ---- the request's parts ----
class RequestProblem(Exception):
    """The HTTP request itself is wrong: answered with `status` and one error, before any execution."""

    def __init__(
        self, status: int, message: str, code: ErrorCode, *, headers: Mapping[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})
        self.extra = extra


@dataclass(frozen=True)
class GraphQLParams:
    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None


@dataclass
class Answer:
    """One operation's answer: the JSON body, how it went, and the context it ran with."""

    body: dict[str, Any]
    executed: bool  # execution started (otherwise: a request error, answered 400 with graphql-response+json)
    context: Context | None = None
    retry_after: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


def negotiate(accept: str | None) -> str | None:
    """The response media type for this Accept header; None when we can serve none it accepts."""
    if accept is None or not accept.strip():
        return JSON
    best: tuple[float, int, int] | None = None
    chosen = None
    for part in accept.split(","):
        kind, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        kind = kind.lower()
        if quality <= 0:
            continue
        if kind == GRAPHQL_RESPONSE_JSON:
            candidate, specificity = GRAPHQL_RESPONSE_JSON, 2
        elif kind == JSON:
            candidate, specificity = JSON, 2
        elif kind in ("application/*", "*/*"):
            candidate, specificity = JSON, 1 if kind == "application/*" else 0
        else:
            continue
        rank = (quality, specificity, int(candidate == GRAPHQL_RESPONSE_JSON))
        if best is None or rank > best:
            best, chosen = rank, candidate
    return chosen


def _json_param(value: Any, name: str, *, from_url: bool) -> dict[str, Any] | None:
    if from_url and isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise RequestProblem(400, f"{name} must be a JSON object", ErrorCode.BAD_USER_INPUT) from None
    if value is None or isinstance(value, dict):
        return value
    raise RequestProblem(400, f"{name} must be an object or null", ErrorCode.BAD_USER_INPUT)


def parse_params(raw: Any, *, from_url: bool = False) -> GraphQLParams:
    """Check the shape of one request (`query`, `variables`, `operationName`, `extensions`)."""
    if not isinstance(raw, Mapping):
        raise RequestProblem(400, "a GraphQL request must be a JSON object", ErrorCode.BAD_USER_INPUT)
    query = raw.get("query")
    if query is not None and not isinstance(query, str):
        raise RequestProblem(400, "query must be a string", ErrorCode.BAD_USER_INPUT)
    operation_name = raw.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestProblem(400, "operationName must be a string or null", ErrorCode.BAD_USER_INPUT)
    if from_url and operation_name == "":
        operation_name = None
    return GraphQLParams(
        query=query,
        variables=_json_param(raw.get("variables"), "variables", from_url=from_url),
        operation_name=operation_name,
        extensions=_json_param(raw.get("extensions"), "extensions", from_url=from_url),
    )


async def build_context(request: Request, res: Resources, *, loader_sessions: Sessions | None = None) -> Context:
    """The per-request Context every resolver receives (the only place one is built); the loaders
    use `loader_sessions` when given (a SharedSession), else a session per batch."""
    now = res.clock()
    viewer = await resolve_viewer(
        request.headers.get("authorization"),
        tokens=res.tokens,
        sessions=res.sessions,
        now=now,
        staff_idle=timedelta(minutes=res.settings.staff_session_idle_minutes),
    )
    return Context(
        request=request,
        request_id=request_id_of(request),
        # Found by the rate-limit middleware: the client behind a trusted proxy, else the socket peer.
        client_address=request.scope.get("state", {}).get("client_address")
        or (request.client.host if request.client else None),
        now=now,
        settings=res.settings,
        viewer=viewer,
        db=res.sessions,
        cache=res.cache,
        loaders=make_loaders(
            loader_sessions or res.sessions, now=now, stats_window_days=res.settings.stats_window_days
        ),
        tokens=res.tokens,
        cipher=res.cipher,
        wechat=res.wechat,
        his=res.his,
        his_deadline=Deadline.after(res.settings.his_deadline_ms / 1000),
        attachment_links=res.attachment_links,
        consults=res.consults,
        pay_sandbox=res.pay_sandbox,
        rate_limiter=res.rate_limiter if res.settings.rate_limits_enabled else None,
        response_cache=res.response_cache,
    )


def request_id_of(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))


def error_body(message: str, code: ErrorCode | str, request_id: str, **extra: Any) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": str(code), "requestId": request_id, **extra}}]}


_CONTENT_TYPE_HEADERS = {media: value.encode("latin-1") for media, value in _CONTENT_TYPES.items()}


class CachedAnswer:
    """Stored bytes sent as they are: the cache-hit path skips Starlette's Response, whose header
    handling would cost more than the rest of the hit together."""

    def __init__(self, entry: CachedResponse, media: str) -> None:
        self.body = entry.body
        self.headers = [
            (b"content-type", _CONTENT_TYPE_HEADERS[media]),
            (b"content-length", str(len(entry.body)).encode()),
            (b"cache-control", b"public, max-age=%d" % entry.max_age),
            (b"vary", b"Accept"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


async def _body(request: Request) -> bytes:
    """The request body, read straight from the ASGI channel (Starlette's stream costs several times
    as much per request) and kept where Starlette's own `request.body()` finds it."""
    body: bytes | None = getattr(request, "_body", None)
    if body is None:
        chunks = []
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = request._body = b"".join(chunks)
    return body


# Accept headers that name one media type plainly, as the mini-program's requests do (others: `negotiate`).
_PLAIN_ACCEPT: dict[bytes | None, str] = {
    None: JSON,
    b"*/*": JSON,
    JSON.encode(): JSON,
    GRAPHQL_RESPONSE_JSON.encode(): GRAPHQL_RESPONSE_JSON,
}
_CACHE_HITS = RESPONSE_CACHE_LOOKUPS.labels("hit")
_CACHE_MISSES = RESPONSE_CACHE_LOOKUPS.labels("miss")


RAW_KEY_MAX_BYTES = 8 * 1024


class RawKeys:
    """Request bytes (a POST body, or a GET query string) that were answered from the response cache,
    with their cache key. The same bytes always resolve to the same document, variables and operation,
    so a repeated request skips straight to the lookup; the entry itself still expires and is
    invalidated by tag as usual. Bounded: the least recently used bytes are forgotten first."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._keys: OrderedDict[bytes, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, raw: bytes) -> str | None:
        key = self._keys.get(raw)
        if key is not None:
            self._keys.move_to_end(raw)
        return key

    def remember(self, raw: bytes, key: str) -> None:
        if len(raw) > RAW_KEY_MAX_BYTES:
            return  # the mini-program's requests are far smaller; big ones are not worth keeping
        self._keys[raw] = key
        self._keys.move_to_end(raw)
        if len(self._keys) > self._size:
            self._keys.popitem(last=False)


class GraphQLEndpoint:
    """The ASGI app behind /graphql."""

    def __init__(
        self,
        resources: Callable[[], Resources],
        *,
        settings: Settings,
    ) -> None:
        self._resources = resources
        self._settings = settings
        self.schema = schema_for(settings)
        # Read once at start-up: a broken manifest stops the server instead of refusing every request.
        self._trusted = load_manifest(settings.trusted_documents) if settings.trusted_documents else None
        self._persisted: PersistedQueries | None = None
        # POST bodies and GET query strings apart: the same bytes in the other method are another request.
        self._raw_keys = {"GET": RawKeys(), "POST": RawKeys()}
        self._ide_page: str | None = None
        self._ide_csp = ""
        if settings.is_dev:
            page = graphiql.graphiql_html(ROOT)
            self._ide_page = page
            self._ide_csp = graphiql_csp(page, cdn=graphiql.CDN_BASE if graphiql.CDN_BASE in page else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            if scope["method"] == "POST" and self._raw_keys["POST"]:
                hit = await self._repeated_post(request)
                if hit is not None:
                    await hit(scope, receive, send)
                    return
            response = await self.handle(request)
        except ClientDisconnect:
            return  # gone before its request was read: there is nobody to answer
        await response(scope, receive, send)

    async def _repeated_post(self, request: Request) -> CachedAnswer | None:
        """The hit path of the mini-program's usual request — a JSON POST whose exact bytes were
        answered from the cache before — with nothing done but the lookup. Anything else (another
        content or media type, a body never seen, an expired entry) returns None and takes the full
        path in `handle`, which checks and answers it properly."""
        content_type = accept = None
        for name, value in request.scope["headers"]:
            if name == b"content-type":
                if content_type is not None:
                    return None  # twice: `handle` decides which one counts
                content_type = value
            elif name == b"accept":
                if accept is not None:
                    return None
                accept = value
        media = _PLAIN_ACCEPT.get(accept)
        # application/json is never refused by CSRF prevention, and needs no charset check.
        if content_type != b"application/json" or media is None:
            return None
        return await self._from_cache(self._raw_keys["POST"].get(await _body(request)), media)

    async def _from_cache(self, key: str | None, media: str) -> CachedAnswer | None:
        """The answer stored under `key`, ready to send; None when there is none (or no key)."""
        hit = None if key is None else await self._resources().response_cache.get(key)
        if hit is None:
            return None
        _CACHE_HITS.inc()
        return CachedAnswer(hit, media)

    def persisted(self) -> PersistedQueries:
        if self._persisted is None:
            self._persisted = PersistedQueries(
                self._resources().cache,
                apq_enabled=self._settings.apq_enabled,
                ttl_seconds=self._settings.apq_ttl_seconds,
                trusted=self._trusted,
            )
        return self._persisted

    async def handle(self, request: Request) -> Response | CachedAnswer:
        request_id = request_id_of(request)
        media = JSON
        try:
            method = "GET" if request.method == "HEAD" else request.method
            if self._ide_page is not None and method == "GET" and "text/html" in request.headers.get("accept", ""):
                return HTMLResponse(self._ide_page, headers={"content-security-policy": self._ide_csp})
            negotiated = negotiate(request.headers.get("accept"))
            if negotiated is None:
                raise RequestProblem(
                    406, f"acceptable response types: {GRAPHQL_RESPONSE_JSON}, {JSON}", ErrorCode.BAD_USER_INPUT
                )
            media = negotiated
            if self._settings.csrf_prevention and csrf_blocked(method, request.headers):
                raise RequestProblem(
                    400,
                    "this request needs a non-empty Apollo-Require-Preflight or X-Apollo-Operation-Name header "
                    "(or Content-Type: application/json)",
                    ErrorCode.CSRF_PREVENTED,
                )
            if method == "GET" and (hit := await self._from_cache(self._seen_get(request), media)) is not None:
                return hit
            if method == "GET":
                params = parse_params(dict(request.query_params), from_url=True)
                return await self._single(request, params, method, media)
            payload = await self._json_body(request)
            if isinstance(payload, list):
                return await self._batch(request, payload, media)
            return await self._single(request, parse_params(payload), method, media)
        except RequestProblem as problem:
            status = 400 if isinstance(problem, _NotExecuted) and media == GRAPHQL_RESPONSE_JSON else problem.status
            return self._respond(
                error_body(problem.message, problem.code, request_id, **problem.extra),
                media,
                status=status,
                headers=problem.headers,
            )
        except ClientDisconnect:
            raise  # nobody to answer (see __call__)
        except Exception:
            logger.error("unexpected error outside execution (request %s)", request_id, exc_info=True)
            body = error_body("Internal server error", ErrorCode.INTERNAL_SERVER_ERROR, request_id)
            return self._respond(body, media, status=500)

    @staticmethod
    def _check_content_type(request: Request) -> None:
        content_type = request.headers.get("content-type")
        if content_type == JSON:  # what nearly every client sends: nothing more to look at
            return
        if media_type(content_type) != JSON:
            raise RequestProblem(415, f"send {JSON} (UTF-8)", ErrorCode.BAD_USER_INPUT)
        charset = _CHARSET.search(content_type or "")
        if charset and charset.group(1).lower() not in ("utf-8", "utf8"):
            raise RequestProblem(415, f"send {JSON} in UTF-8", ErrorCode.BAD_USER_INPUT)

    async def _json_body(self, request: Request) -> Any:
        self._check_content_type(request)
        try:
            return orjson.loads(await _body(request))
        except orjson.JSONDecodeError:
            raise RequestProblem(400, "the body is not valid JSON", ErrorCode.BAD_USER_INPUT) from None

    def _seen_get(self, request: Request) -> str | None:
        """The cache key of a GET whose exact query string was answered from the cache before: it is
        answered again without parsing its parameters or resolving its document. (Repeated POSTs are
        found in `__call__`; one that a header keeps from there is found by its document in `_single`.)"""
        if not self._resources().response_cache.enabled:
            return None
        return self._raw_keys["GET"].get(request.scope["query_string"])

    async def _remember(self, request: Request, key: str) -> None:
        """Remember this request's exact bytes as leading to `key` (see RawKeys)."""
        if request.method in ("GET", "HEAD"):
            self._raw_keys["GET"].remember(request.scope["query_string"], key)
        else:
            self._raw_keys["POST"].remember(await _body(request), key)

    async def _single(
        self, request: Request, params: GraphQLParams, method: str, media: str
    ) -> Response | CachedAnswer:
        document = await self._document(params)
        cache = self._resources().response_cache
        if not cache.enabled:
            return self._finish(await self._execute(request, params, document, method), media)
        # Only PUBLIC answers are ever stored, so one scope serves every viewer.
        key = response_cache_key(
            document=document, variables=params.variables, operation_name=params.operation_name, scope="public"
        )
        hit = await self._from_cache(key, media)
        if hit is not None:
            await self._remember(request, key)
            return hit
        if _MAY_CHANGE_DATA.search(document):
            return self._finish(await self._execute(request, params, document, method), media)
        _CACHE_MISSES.inc()
        produced: list[Answer] = []

        async def compute() -> CachedResponse | None:
            answer = await self._execute(request, params, document, method)
            produced.append(answer)
            cacheable = self._cacheable(answer)
            if cacheable is None:
                return None
            max_age, tags = cacheable
            body = orjson.dumps(answer.body)
            return CachedResponse(body=body, content_type=_CONTENT_TYPES[JSON], max_age=max_age, tags=tags)

        entry = await cache.get_or_compute(key, compute)
        if entry is not None:
            await self._remember(request, key)
        if produced:
            return self._finish(produced[0], media)
        if entry is not None:  # another request (maybe on another instance) computed it meanwhile
            return CachedAnswer(entry, media)
        return self._finish(await self._execute(request, params, document, method), media)

    async def _batch(self, request: Request, payload: list[Any], media: str) -> Response:
        limit = self._settings.graphql_max_batch
        if not payload:
            raise RequestProblem(400, "an empty batch", ErrorCode.BAD_USER_INPUT)
        if len(payload) > limit:
            message = f"at most {limit} operations per batch" if self._settings.is_dev else "too many operations"
            raise RequestProblem(400, message, ErrorCode.QUERY_TOO_COMPLEX, limit="batch")
        request_id = request_id_of(request)
        answers: list[Answer] = []
        for raw in payload:
            # Each operation of a batch is answered on its own: one bad entry does not spoil the others.
            try:
                params = parse_params(raw)
                answers.append(await self._execute(request, params, await self._document(params), "POST"))
            except RequestProblem as problem:
                body = error_body(problem.message, problem.code, request_id, **problem.extra)
                answers.append(Answer(body=body, executed=False))
        retry = [answer.retry_after for answer in answers if answer.retry_after is not None]
        status, headers = (429, {"retry-after": str(max(retry))}) if retry else (200, {})
        return self._respond([answer.body for answer in answers], media, status=status, headers=headers)

    async def _document(self, params: GraphQLParams) -> str:
        try:
            document = await self.persisted().document(params.query, params.extensions)
        except PersistedQueryProblem as problem:
            # Apollo's clients read these codes from a 200 answer; graphql-response+json gets 400 (_finish).
            raise _NotExecuted(problem.message, problem.code) from None
        if document is None:
            raise RequestProblem(400, "the request has no query", ErrorCode.BAD_USER_INPUT)
        return document

    async def _execute(self, request: Request, params: GraphQLParams, document: str, method: str) -> Answer:
        res = self._resources()
        # SQLite: the loaders of a request that changes nothing share one session (see SharedSession).
        read_only = method == "GET" or not _MAY_CHANGE_DATA.search(document)
        shared = SharedSession(res.sessions) if read_only and res.engine.dialect.name == "sqlite" else None
        context = await build_context(request, res, loader_sessions=shared)
        allowed = {OperationType.QUERY} if method == "GET" else {OperationType.QUERY, OperationType.MUTATION}
        try:
            result = await self.schema.execute(
                document,
                variable_values=params.variables,
                context_value=context,
                operation_name=params.operation_name,
                allowed_operation_types=allowed,
            )
        except InvalidOperationTypeError as exc:
            if method == "GET":
                raise RequestProblem(
                    405, "mutations are only accepted over POST", ErrorCode.BAD_USER_INPUT, headers={"allow": "POST"}
                ) from exc
            raise RequestProblem(400, exc.as_http_error_reason(method), ErrorCode.BAD_USER_INPUT) from exc
        except CannotGetOperationTypeError as exc:
            raise RequestProblem(400, exc.as_http_error_reason(), ErrorCode.BAD_USER_INPUT) from exc
        except MissingQueryError as exc:
            raise RequestProblem(400, "the request has no query", ErrorCode.BAD_USER_INPUT) from exc
        finally:
            if shared is not None:
                await shared.release()
        return self._answer(result, context)

    def _answer(self, result: ExecutionResult, context: Context) -> Answer:
        errors = [self._masked(error, context) for error in result.errors or []]
        # Parse and validation errors, and variables that do not fit (no error of those has a path).
        executed = not isinstance(result, PreExecutionError) and not (
            result.data is None and errors and all(error.path is None for error in errors)
        )
        if not executed:
            errors = [_with_code(error) for error in errors]
        body: dict[str, Any] = {"data": result.data}
        if errors:
            body["errors"] = [error.formatted for error in errors]
        if result.extensions:
            body["extensions"] = result.extensions
        retry = [
            _seconds((error.extensions or {}).get("retryAfter"))
            for error in errors
            if (error.extensions or {}).get("code") == ErrorCode.RATE_LIMITED
        ]
        return Answer(body=body, executed=executed, context=context, retry_after=max(retry) if retry else None)

    def _masked(self, error: GraphQLError, context: Context) -> GraphQLError:
        """Errors raised outside resolvers (extensions, execution machinery) escape MaskUnexpectedErrors,
        which only sees the operation's own result: mask them here, the same way."""
        if not _is_unexpected(error):
            return error
        logger.error(
            "unexpected error outside resolvers (request %s)", context.request_id, exc_info=error.original_error
        )
        return GraphQLError(
            "Internal server error",
            path=error.path,
            extensions={"code": ErrorCode.INTERNAL_SERVER_ERROR.value, "requestId": context.request_id},
        )

    @staticmethod
    def _cacheable(answer: Answer) -> tuple[int, frozenset[str]] | None:
        if not answer.executed or answer.context is None or "errors" in answer.body or answer.retry_after:
            return None
        return _public_max_age(answer.context)

    def _finish(self, answer: Answer, media: str) -> Response:
        body = dict(answer.body)
        status = 200
        if answer.retry_after is not None:
            status = 429
            answer.headers["retry-after"] = str(answer.retry_after)
        elif not answer.executed and media == GRAPHQL_RESPONSE_JSON:
            status = 400
        if not answer.executed and media == GRAPHQL_RESPONSE_JSON:
            body.pop("data", None)
        cacheable = self._cacheable(answer) if status == 200 else None
        cache_control = f"public, max-age={cacheable[0]}" if cacheable else "no-store"
        return self._respond(body, media, status=status, headers={"cache-control": cache_control, **answer.headers})

    @staticmethod
    def _respond(body: Any, media: str, *, status: int, headers: Mapping[str, str] | None = None) -> Response:
        all_headers = {"cache-control": "no-store", "vary": "Accept", **(headers or {})}
        return Response(orjson.dumps(body), status_code=status, headers=all_headers, media_type=_CONTENT_TYPES[media])


def _with_code(error: GraphQLError) -> GraphQLError:
    """A refusal before execution with a machine-readable code: graphql-core's own parse, validation and
    variable errors carry none (ours, such as the query limits, keep theirs)."""
    if (error.extensions or {}).get("code"):
        return error
    code = (
        ErrorCode.GRAPHQL_PARSE_FAILED if isinstance(error, GraphQLSyntaxError) else ErrorCode.GRAPHQL_VALIDATION_FAILED
    )
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions={**(error.extensions or {}), "code": code.value},
    )


class _NotExecuted(RequestProblem):
    """A persisted-query problem: a GraphQL error answer (200, or 400 with graphql-response+json)."""

    def __init__(self, message: str, code: ErrorCode) -> None:
        super().__init__(200, message, code)


def _seconds(value: Any) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1
