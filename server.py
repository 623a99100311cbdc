"""HTTP entry point: ``python server.py`` serves the API (flags in shared/API.md).

``/graphql`` speaks GraphQL over HTTP as its spec describes it: one operation per request,
as a JSON ``POST`` (mutations too) or a ``GET`` (queries only, with a token);
``application/graphql-response+json`` with the spec's status codes for clients that accept
it, ``application/json`` (always 200 once the request is well formed) otherwise. Everything
refused outside GraphQL (size, media type, method, batches) is refused the same way: a JSON
body of coded errors. ``docs/limits.md`` lists the codes.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson
import uvicorn
from cross_web import HTTPException, StarletteRequestAdapter
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from tortoise import connections

import graphiql
import idempotency
import storage
from engine.executor import FAST_PATH, execution
from engine.limits import MAX_COST, operation_of
from engine.outage import RETRY_AFTER_SECONDS, database_unavailable, describe
from metrics import WEBSOCKETS, MetricsMiddleware, metrics, shared_between_workers, worker_exited
from models.canonical import default_region
from models.db import close_database, init_database
from ratelimit import RateLimiter, Verdict, build_rate_limiter
from requestlog import (
    RequestLog,
    configure_logging,
    count_statements,
    current,
    note_cause,
    request_id,
)
from resolvers.access import Area
from resolvers.audit_log import time_zone
from resolvers.context import RequestContext
from resolvers.documents import downloadable
from resolvers.errors import BadInput, RequestError
from resolvers.export import (
    CSV_OPTIONS,
    contact_csv,
    contact_xlsx,
    custom_field_filter,
    export_cost,
    parse_options,
    parse_parameters,
    template_csv,
    template_xlsx,
)
from resolvers.users import ensure_admin, user_for_token
from schema import schema
from settings import Settings, load_settings

if TYPE_CHECKING:
    from tracing import Tracing

log = logging.getLogger("crm.server")

GC_YOUNGEST_THRESHOLD = 20_000  # allocations between collections of the youngest generation
GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
# Headers a browser cannot send cross-site without a CORS preflight: a multipart POST
# (which a plain HTML form can send) must carry one of them, or `Authorization` (CSRF).
PREFLIGHT_HEADERS = ("graphql-require-preflight", "apollo-require-preflight",
                     "x-apollo-operation-name")  # fmt: skip
# Pre-execution refusals under application/graphql-response+json: the spec's status codes.
PRE_EXECUTION_STATUS = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "RATE_LIMITED": 429,
                        "INTERNAL_SERVER_ERROR": 500}  # fmt: skip
# Arrays and objects inside each other in a JSON body, `variables` or `extensions`: deep
# nesting buys a client nothing and costs the server stack (Python's decoder recurses).
MAX_JSON_DEPTH = 32
# A WebSocket closed because the database is out of reach: "try again later" (RFC 6455).
WS_TRY_AGAIN_LATER = 1013
UNAVAILABLE = f"The service is unavailable for a moment; retry in {RETRY_AFTER_SECONDS} s."


@dataclass(slots=True)
class ServerContext(RequestContext):
    """What resolvers get, plus whose per-minute budget the request spends: the token's,
    else the user's, else (anonymous) the client address's."""

    limiter: RateLimiter | None = None
    address: str = ""

    async def charge_points(self, points: int) -> Verdict | None:
        if self.limiter is None:
            return None
        if self.token is not None:
            subject = f"token:{self.token.pk}"
        elif self.user is not None:
            subject = f"user:{self.user.pk}"
        else:
            subject = f"address:{self.address}"
        return await self.limiter.charge(subject, points)


class Refusal(Exception):
    """A request refused before GraphQL runs: an HTTP status and one coded error."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})
        self.extensions = extensions

    def response(self, media_type: str) -> Response:
        error = {"message": self.message, "extensions": {"code": self.code, **self.extensions}}
        note_outcome((self.code,), 0)
        body = {"errors": [error], "extensions": {"cost": {"requested": 0, "limit": MAX_COST}}}
        return json_response(body, self.status, media_type, self.headers)


def json_response(
    body: Any, status: int, media_type: str, headers: Mapping[str, str] | None = None
) -> Response:
    try:
        content = orjson.dumps(body)  # several times faster than json on large results
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits inside a JSON scalar
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status, dict(headers or {}), f"{media_type}; charset=utf-8")


def _media_type(value: str) -> tuple[str, dict[str, str]]:
    """``type/subtype`` (lower case) and the parameters of a Content-Type or Accept item."""
    kind, *parameters = value.split(";")
    pairs = (p.partition("=") for p in parameters)
    return kind.strip().lower(), {k.strip().lower(): v.strip().strip('"') for k, _, v in pairs}


def response_media_type(accept: str | None) -> str:
    """``application/graphql-response+json`` when the client prefers or only takes it;
    ``application/json`` otherwise (also for ``*/*``, no Accept, or nothing we know)."""
    weights: dict[str, float] = {}
    for item in (accept or "").split(","):
        kind, parameters = _media_type(item)
        try:
            weights[kind] = float(parameters.get("q", "1"))
        except ValueError:
            weights[kind] = 0.0
    preferred = weights.get(GRAPHQL_RESPONSE, 0.0)
    plain = max(weights.get(JSON, 0.0), weights.get("application/*", 0.0), weights.get("*/*", 0.0))
    return GRAPHQL_RESPONSE if preferred > 0 and preferred >= plain else JSON


def _json_object(value: Any, name: str) -> dict | None:
    if value is None or isinstance(value, dict):
        return value
    raise Refusal(400, "BAD_REQUEST", f"`{name}` must be a JSON object or null.")


@dataclass(frozen=True, slots=True)
class Operation:
    query: str
    variables: dict | None
    operation_name: str | None
    extensions: dict | None

    @staticmethod
    def of(params: Mapping[str, Any]) -> Operation:
        """The GraphQL-over-HTTP request parameters, each checked for its type."""
        query = params.get("query")
        if not isinstance(query, str) or not query.strip():
            raise Refusal(400, "BAD_REQUEST", "Send the GraphQL document as a string `query`.")
        name = params.get("operationName")
        if name is not None and not isinstance(name, str):
            raise Refusal(400, "BAD_REQUEST", "`operationName` must be a string or null.")
        return Operation(
            query,
            _json_object(params.get("variables"), "variables"),
            name,
            _json_object(params.get("extensions"), "extensions"),
        )


def _decoded(text: str | bytes, name: str) -> Any:
    """``text`` as JSON, refused (400) when it is not JSON or nests deeper than
    ``MAX_JSON_DEPTH``."""
    try:
        value = json.loads(text)
    except ValueError:
        raise Refusal(400, "BAD_REQUEST", f"`{name}` is not valid JSON.") from None
    except RecursionError:  # nested deeper than the stack allows: far over the limit
        value = None
        depth = MAX_JSON_DEPTH + 1
    else:
        depth = json_depth(value)
    if depth > MAX_JSON_DEPTH:
        raise Refusal(400, "BAD_REQUEST",
                      f"`{name}` nests arrays and objects more than {MAX_JSON_DEPTH} deep.",
                      limit=MAX_JSON_DEPTH)  # fmt: skip
    return value


def json_depth(value: Any) -> int:
    """How many arrays and objects ``value`` holds inside each other (without recursion)."""
    deepest, level = 0, [(value, 1)]
    while level:
        item, depth = level.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        if depth > deepest:
            if depth > MAX_JSON_DEPTH:
                return depth
            deepest = depth
        level.extend((child, depth + 1) for child in item if isinstance(child, dict | list))
    return deepest


def idempotency_key(values: Sequence[str]) -> str:
    """The ``Idempotency-Key`` of a mutation request, checked: one header, 1 to 255
    characters."""
    if len(values) > 1:
        raise Refusal(400, "BAD_REQUEST", "Send one `Idempotency-Key` header, not several.")
    key = values[0].strip()
    if not key or len(key) > idempotency.MAX_KEY_LENGTH:
        raise Refusal(400, "BAD_REQUEST",
                      f"`Idempotency-Key` must have 1 to {idempotency.MAX_KEY_LENGTH} "
                      f"characters (got {len(key)}).",
                      limit=idempotency.MAX_KEY_LENGTH)  # fmt: skip
    return key


def _is_mutation(operation: Operation) -> bool:
    found = operation_of(operation.query, operation.operation_name)
    return found is not None and found.operation.value == OperationType.MUTATION.value


def authorization(headers: Headers) -> str | None:
    """The request's one ``Authorization`` header; several are refused (which would count?)."""
    values = headers.getlist("authorization")
    if len(values) > 1:
        raise Refusal(400, "BAD_REQUEST", "Send one `Authorization` header, not several.")
    return values[0] if values else None


class GraphQLApp(GraphQL):
    """Strawberry's ASGI app for GraphiQL and the WebSocket; HTTP requests go through
    ``handle``, which applies the GraphQL-over-HTTP rules itself."""

    def __init__(
        self, graphql_schema: Any, limiter: RateLimiter | None, *, fast_execution: bool = True
    ) -> None:
        super().__init__(graphql_schema, graphql_ide="graphiql", multipart_uploads_enabled=True)
        self.limiter = limiter
        self.fast_execution = fast_execution
        self.idempotency = idempotency.IdempotencyStore()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # ``--standard-execution`` turns the breadth-first path off for every operation;
        # resolvers keep documents' bytes in the app's storage (``storage.current``).
        app = scope.get("app")
        store = getattr(app.state, "storage", None) if app is not None else None
        with execution(fast=self.fast_execution and FAST_PATH.get()), storage.using(store):
            if scope["type"] == "websocket":
                await self.websocket(scope, receive, send)
                return
            if scope["type"] != "http":
                await super().__call__(scope, receive, send)
                return
            # With an Idempotency-Key the body is hashed as it streams by (an upload is
            # never held whole for it).
            keyed = any(name == idempotency.HEADER_BYTES for name, _ in scope["headers"])
            body = idempotency.HashedBody(receive) if keyed else None
            response = await self.handle(Request(scope, receive if body is None else body), body)
            await response(scope, receive, send)

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket connection. Refused before the handshake (400) when the upgrade
        carries several ``Authorization`` headers, as HTTP requests are. When the database
        cannot be reached (signing in, at the upgrade or in ``connection_init``), it is
        closed with 1013 (try again later) and the connection's log line says why."""
        try:
            authorization(Headers(scope=scope))
        except Refusal as refusal:
            websocket = WebSocket(scope, receive, send)
            if "websocket.http.response" in scope.get("extensions", {}):
                await websocket.send_denial_response(refusal.response(JSON))
            else:  # closed before the handshake: the server answers it with 403
                note_outcome((refusal.code,), None)
                await websocket.close(1008)
            return
        accepted = closed = False

        async def tracking_send(message: Message) -> None:
            nonlocal accepted, closed
            accepted = accepted or message["type"] == "websocket.accept"
            closed = closed or message["type"] == "websocket.close"
            await send(message)

        WEBSOCKETS.inc()
        try:
            await super().__call__(scope, receive, tracking_send)
        except Exception as error:
            if not database_unavailable(error):
                raise
            note_outcome(("SERVICE_UNAVAILABLE",), None)
            if not note_cause(describe(error)):
                log.warning("WebSocket: database unavailable (%s)", describe(error))
            if not closed:
                await send({"type": "websocket.close", "code": WS_TRY_AGAIN_LATER,
                            "reason": UNAVAILABLE})  # fmt: skip
        finally:
            WEBSOCKETS.dec()

    async def handle(
        self, request: Request, body: idempotency.HashedBody | None = None
    ) -> Response:
        media_type = response_media_type(request.headers.get("accept"))
        try:
            if request.method not in ("GET", "POST"):
                raise Refusal(405, "METHOD_NOT_ALLOWED", "Use POST, or GET for queries.",
                              {"Allow": "GET, POST"})  # fmt: skip
            if self.should_render_graphql_ide(StarletteRequestAdapter(request)):
                return await self.render_graphql_ide(request)
            keys = request.headers.getlist(idempotency.HEADER) if request.method == "POST" else []
            operation = Operation.of(await self.parameters(request))
            if body is not None and keys and _is_mutation(operation):  # queries: ignored
                key = idempotency_key(keys)
                # The parameters were the whole body: its hash is complete.
                return await self.idempotent(request, operation, key, body.hexdigest(), media_type)
            result = await self.execute(request, operation)
        except Refusal as refusal:
            return refusal.response(media_type)
        except ClientDisconnect:
            # Nobody is left to read an answer: one line, not a traceback (uvicorn drops
            # the response; the metrics count it as a 400).
            log.info("%s %s: the client hung up before sending the whole request",
                     request.method, request.url.path)  # fmt: skip
            return Refusal(400, "BAD_REQUEST", "The request body is incomplete.").response(
                media_type
            )
        return graphql_response(result, media_type)

    async def idempotent(
        self, request: Request, operation: Operation, key: str, body_hash: str, media_type: str
    ) -> Response:
        """A mutation sent with an ``Idempotency-Key``: run once per token and key, its first
        answer sent again to a retry with the same body (``idempotency``)."""
        context = await self.context(request)
        if context.token is None:  # anonymous: refused by the mutation, nothing to keep
            return graphql_response(await self.execute(request, operation, context), media_type)
        claim = await self.idempotency.claim(context.token.pk, key, body_hash)
        if claim.verdict is idempotency.Verdict.REUSED:
            raise Refusal(422, "IDEMPOTENCY_KEY_REUSED",
                          "This Idempotency-Key was sent with another request body in the last "
                          "24 hours: use a new key for a new request.")  # fmt: skip
        if claim.verdict is idempotency.Verdict.IN_PROGRESS:
            raise Refusal(409, "IDEMPOTENCY_KEY_IN_PROGRESS",
                          "A request with this Idempotency-Key is still running: retry in a "
                          "moment.", {"Retry-After": "1"})  # fmt: skip
        if claim.verdict is idempotency.Verdict.REPLAY:
            note_outcome((), None)
            return Response(claim.body, claim.status, {"Idempotent-Replayed": "true"},
                            claim.content_type)  # fmt: skip
        try:
            response = graphql_response(await self.execute(request, operation, context),
                                        media_type)  # fmt: skip
        except BaseException:
            await self.idempotency.release(claim)
            raise
        if response.status_code >= 500 or response.status_code == 429:
            await self.idempotency.release(claim)  # nothing was done: a retry runs
        else:
            await self.idempotency.complete(claim, response.status_code,
                                            response.headers["content-type"],
                                            bytes(response.body).decode())  # fmt: skip
        return response

    def decode_json(self, data: str | bytes) -> object:
        """The JSON parts of a multipart request (``operations``, ``map``), depth-checked."""
        return _decoded(data, "operations")

    async def parameters(self, request: Request) -> Mapping[str, Any]:
        """The request's parameters: the query string of a GET, the JSON body of a POST,
        or the ``operations`` of a multipart upload that carries a token or a preflight
        header."""
        if request.method == "GET":
            if authorization(request.headers) is None:
                # A browser can make anyone's page send a GET; with a bearer token it can't.
                raise Refusal(401, "UNAUTHENTICATED",
                              "GET needs `Authorization: Bearer <token>`; or POST the query.",
                              {"WWW-Authenticate": "Bearer"})  # fmt: skip
            params: dict[str, Any] = dict(request.query_params)
            for name in ("variables", "extensions"):
                if params.get(name):
                    params[name] = _decoded(params[name], name)
            return params
        kind, parameters = _media_type(request.headers.get("content-type", ""))
        if kind == JSON:
            if parameters.get("charset", "utf-8").lower() != "utf-8":
                raise Refusal(415, "UNSUPPORTED_MEDIA_TYPE", "Send the body in UTF-8.")
            body = await request.body()
            if not body:
                raise Refusal(400, "BAD_REQUEST", "The request has no body.")
            data = _decoded(body.decode("utf-8", "replace"), "body")
        elif kind == "multipart/form-data":
            # A browser sends an `Authorization` header cross-site only after a CORS
            # preflight, so a bearer token is CSRF protection enough (shared/API.md).
            preflighted = ("authorization", *PREFLIGHT_HEADERS)
            if not any(header in request.headers for header in preflighted):
                raise Refusal(400, "PREFLIGHT_REQUIRED",
                              "A multipart request needs `Authorization: Bearer <token>` or "
                              "a `GraphQL-Require-Preflight: 1` header "
                              "(CSRF protection).")  # fmt: skip
            try:
                data = await self.parse_multipart(StarletteRequestAdapter(request))
            except HTTPException as error:
                raise Refusal(400, "BAD_REQUEST", error.reason) from None
        else:
            raise Refusal(415, "UNSUPPORTED_MEDIA_TYPE",
                          "POST a JSON body with `Content-Type: application/json`.")  # fmt: skip
        if isinstance(data, list):
            raise Refusal(400, "BATCHING_NOT_SUPPORTED",
                          "Send one operation per request: batches are not supported.")  # fmt: skip
        if not isinstance(data, dict):
            raise Refusal(400, "BAD_REQUEST", "The body must be a JSON object.")
        return data

    async def context(self, request: Request) -> ServerContext:
        return await context_for(
            authorization(request.headers),
            limiter=self.limiter,
            address=request.client.host if request.client else "",
        )

    async def execute(
        self, request: Request, operation: Operation, context: ServerContext | None = None
    ) -> ExecutionResult:
        record = current()
        if record is not None:
            found = operation_of(operation.query, operation.operation_name)
            if found is not None:
                record.operation_type = found.operation.value
                record.operation_name = found.name.value if found.name else None
        if context is None:
            context = await self.context(request)
        allowed = {OperationType.QUERY}
        if request.method == "POST":
            allowed.add(OperationType.MUTATION)
        try:
            return await self.schema.execute(
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                operation_name=operation.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=operation.extensions,
            )
        except InvalidOperationTypeError as error:
            raise Refusal(405, "METHOD_NOT_ALLOWED",
                          f"{error.as_http_error_reason(request.method).capitalize()}: "
                          "use POST.", {"Allow": "POST"}) from None  # fmt: skip
        except CannotGetOperationTypeError as error:
            raise Refusal(400, "BAD_REQUEST", error.as_http_error_reason()) from None
        except MissingQueryError:
            raise Refusal(400, "BAD_REQUEST", "The request has no query.") from None

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        """Our GraphiQL page (``graphiql/``), every asset served from here."""
        return graphiql.page_response()

    async def get_context(self, request: Request | WebSocket, response: Any) -> RequestContext:
        address = request.client.host if request.client else ""
        if isinstance(request, WebSocket) and "authorization" not in request.headers:
            # The token arrives later, in connection_init.
            return ServerContext(limiter=self.limiter, address=address)
        return await context_for(
            request.headers.get("authorization"), limiter=self.limiter, address=address
        )

    async def on_ws_connect(self, context: RequestContext) -> None:
        """Sign in a WebSocket from ``{"Authorization": "Bearer …"}`` in connection_init."""
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        if header is not None:
            signed_in = await context_for(str(header))
            if signed_in.user is None:
                note_outcome(("UNAUTHENTICATED",), None)
                raise ConnectionRejectionError({"message": signed_in.auth_error})
            context.user, context.token = signed_in.user, signed_in.token
        return None


def graphql_response(result: ExecutionResult, media_type: str) -> Response:
    """The HTTP response for ``result``. A request refused before execution (no error has a
    path) is 200 with ``"data": null`` for ``application/json``, and for
    ``application/graphql-response+json`` the spec's 4xx/5xx without a ``data`` entry.
    Over the rate limit is 429 for both."""
    errors = [_checked(error.formatted) for error in result.errors or ()]
    refused = result.data is None and bool(errors) and all("path" not in e for e in errors)
    body: dict[str, Any] = {}
    if not (refused and media_type == GRAPHQL_RESPONSE):
        body["data"] = result.data
    if errors:
        body["errors"] = errors
    if result.extensions:
        body["extensions"] = result.extensions
    codes = [error["extensions"]["code"] for error in errors]
    note_outcome(codes, (result.extensions or {}).get("cost", {}).get("requested"))
    status, headers = 200, {}
    if "SERVICE_UNAVAILABLE" in codes:
        status, headers["Retry-After"] = 503, str(RETRY_AFTER_SECONDS)
    elif "RATE_LIMITED" in codes:
        status = 429
        retry = next(e["extensions"].get("retryAfter") for e in errors
                     if e["extensions"]["code"] == "RATE_LIMITED")  # fmt: skip
        headers["Retry-After"] = str(retry or 60)
    elif refused and media_type == GRAPHQL_RESPONSE:
        status = next((PRE_EXECUTION_STATUS[c] for c in codes if c in PRE_EXECUTION_STATUS), 400)
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
    return json_response(body, status, media_type, headers)


def _checked(error: dict[str, Any]) -> dict[str, Any]:
    """The last line of defence: an error that escaped ``CodedErrors`` (an extension that
    crashed) leaves as INTERNAL_SERVER_ERROR, its text only in the log."""
    if "code" in (error.get("extensions") or {}):
        return error
    failed = request_id()
    log.error("request %s: uncoded error %r", failed, error)
    extensions = {"code": "INTERNAL_SERVER_ERROR", "requestId": failed}
    return {"message": "Internal server error.", "extensions": extensions}


async def context_for(
    authorization: str | None, *, limiter: RateLimiter | None = None, address: str = ""
) -> ServerContext:
    """Who is asking. A missing or bad token leaves the context anonymous (a bad one with
    ``auth_error`` set)."""
    if not authorization:
        return ServerContext(limiter=limiter, address=address)
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return ServerContext(auth_error="Use `Authorization: Bearer <token>`.", limiter=limiter,
                             address=address)  # fmt: skip
    found = await user_for_token(secret.strip())
    if found is None:
        return ServerContext(auth_error="The token is unknown, expired or revoked.",
                             limiter=limiter, address=address)  # fmt: skip
    user, token = found
    record = current()
    if record is not None:
        record.user_id, record.token_id = user.pk, token.pk
    return ServerContext(user=user, token=token, limiter=limiter, address=address)


def note_outcome(codes: Sequence[str], cost: int | None) -> None:
    """The error codes and cost of the answer, for the request's log line."""
    record = current()
    if record is not None:
        record.error_codes, record.cost = tuple(codes), cost


class BodyTooLarge(Exception):
    pass


class DefaultRegion:
    """Every request reads numbers without a country of their own in the server's region
    (``--default-region``; ``models.canonical.DEFAULT_REGION``)."""

    def __init__(self, app: ASGIApp, region: str) -> None:
        self.app = app
        self.region = region

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with default_region(self.region):
            await self.app(scope, receive, send)


class TimeZone:
    """Every request counts audit periods in the server's time zone (``--time-zone``;
    ``resolvers.audit_log.TIME_ZONE``)."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with time_zone(self.name):
            await self.app(scope, receive, send)


class BodyLimit:
    """413 for a body over the limit, before it is read whole: at once when Content-Length
    says so, else as soon as the streamed body passes the limit. Multipart uploads (files)
    have their own, larger limit."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        upload = _media_type(headers.get("content-type", ""))[0] == "multipart/form-data"
        limit = self.max_upload_bytes if upload else self.max_bytes
        refusal = Refusal(413, "REQUEST_TOO_LARGE",
                          f"The request body is larger than {limit} bytes.")  # fmt: skip
        media_type = response_media_type(headers.get("accept"))
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await refusal.response(media_type)(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await refusal.response(media_type)(scope, receive, send)


class DatabaseOutage:
    """Any request that fails because the database cannot be reached, wherever that
    happened (the token lookup runs before GraphQL does), answers ``503
    SERVICE_UNAVAILABLE`` with ``Retry-After`` and a request id; the request's one log line
    (a warning) carries the cause."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            if started or not database_unavailable(error):
                raise
            if not note_cause(describe(error)):  # the request's line says why, else a line here
                log.warning("%s %s: database unavailable (%s)", scope["method"], scope["path"],
                            describe(error))  # fmt: skip
            refusal = Refusal(
                503, "SERVICE_UNAVAILABLE", UNAVAILABLE, {"Retry-After": str(RETRY_AFTER_SECONDS)},
                requestId=request_id(), retryAfter=RETRY_AFTER_SECONDS,
            )  # fmt: skip
            media_type = response_media_type(Headers(scope=scope).get("accept"))
            await refusal.response(media_type)(scope, receive, send)


def coded_error(status: int, message: str, code: str, **extensions: Any) -> JSONResponse:
    """A request refused outside GraphQL execution, in the shape GraphQL errors have."""
    body = {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    note_outcome((code,), None)
    return JSONResponse(body, status_code=status)


XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _caller(request: Request) -> RequestContext | Response:
    """The export's and the template's caller, or the 401 that refuses it."""
    try:
        header = authorization(request.headers)
    except Refusal as refusal:
        return refusal.response(JSON)
    return await context_for(
        header,
        limiter=request.app.state.rate_limiter,
        address=request.client.host if request.client else "",
    )


def _refused(error: RequestError) -> JSONResponse:
    status = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403}.get(error.code, 400)
    extensions = {"argument": error.argument} if error.argument else {}
    return coded_error(status, error.message, error.code, **extensions)


async def export_contacts(request: Request) -> Response:
    """GET /export/contacts.csv and /export/contacts.xlsx: the contacts list (its filters
    and search as query parameters, ``columns``, and for CSV ``delimiter`` and ``bom``),
    streamed; refusals come before the first byte, as JSON. It spends the caller's
    per-minute budget like a query: a point per 100 rows, and one."""
    xlsx = request.url.path.endswith(".xlsx")
    context = await _caller(request)
    if isinstance(context, Response):
        return context
    params = request.query_params
    try:
        options = parse_options(params, csv_file=not xlsx)
        contact_filter, search = parse_parameters(
            params, ("columns",) if xlsx else ("columns", *CSV_OPTIONS)
        )
        contact_filter.custom_field = await custom_field_filter(params)
        export = contact_xlsx if xlsx else contact_csv
        chunks = export(context.access, contact_filter, search, options)
        verdict = await context.charge_points(
            await export_cost(context.access, contact_filter, search, xlsx=xlsx)
        )
    except RequestError as error:
        return _refused(error)
    if verdict is not None and not verdict.allowed:
        response = coded_error(429, "Rate limit reached: retry after the given seconds.",
                               "RATE_LIMITED")  # fmt: skip
        response.headers["Retry-After"] = str(verdict.retry_after)
        return response
    name = "contacts.xlsx" if xlsx else "contacts.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    media_type = XLSX_MEDIA_TYPE if xlsx else "text/csv; charset=utf-8"
    return StreamingResponse(chunks, media_type=media_type, headers=headers)


async def import_template(request: Request) -> Response:
    """GET /import/template.csv and /import/template.xlsx: the header of the export's
    columns the import reads; the export's authentication and contacts scope."""
    xlsx = request.url.path.endswith(".xlsx")
    context = await _caller(request)
    if isinstance(context, Response):
        return context
    try:
        context.access.require_read(Area.CONTACTS)
        known = set() if xlsx else set(CSV_OPTIONS)
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            raise BadInput(f"Unknown parameter `{unknown[0]}`; use {', '.join(sorted(known))}.",
                           argument=unknown[0])  # fmt: skip
        options = parse_options(request.query_params, csv_file=not xlsx)
    except RequestError as error:
        return _refused(error)
    if xlsx:
        headers = {"Content-Disposition": 'attachment; filename="contacts-template.xlsx"'}
        return Response(template_xlsx(), media_type=XLSX_MEDIA_TYPE, headers=headers)
    headers = {"Content-Disposition": 'attachment; filename="contacts-template.csv"'}
    return Response(template_csv(options), media_type="text/csv; charset=utf-8", headers=headers)


def content_disposition(name: str) -> str:
    """``attachment`` with the name twice (RFC 6266): ASCII for old clients, and
    ``filename*`` in UTF-8 for the accents."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\%' else "_" for ch in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def download_document(request: Request) -> Response:
    """GET /documents/<id>: the document's bytes, streamed, to a caller who may see it;
    another team's document is 404 as if it did not exist."""
    context = await _caller(request)
    if isinstance(context, Response):
        return context
    try:
        access = context.access.require_read(Area.CONTACTS)
    except RequestError as error:
        return _refused(error)
    document = await downloadable(access, request.path_params["id"])
    if document is None:
        return coded_error(404, "No document has this id.", "NOT_FOUND")
    store: storage.LocalStorage = request.app.state.storage
    if not await store.exists(document.sha256):
        log.error("document %s: its bytes %s are missing from the storage", document.id,
                  document.sha256)  # fmt: skip
        return coded_error(500, "The document's file is missing from the storage.",
                           "INTERNAL_SERVER_ERROR")  # fmt: skip
    headers = {
        "Content-Disposition": content_disposition(document.name),
        "Content-Length": str(document.byte_size),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }
    note_outcome((), None)
    return StreamingResponse(store.chunks(document.sha256), media_type=document.content_type,
                             headers=headers)  # fmt: skip


async def healthz(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def readyz(request: Request) -> JSONResponse:
    """200 while the database answers; 503 while it does not, and 200 again by itself when
    it is back (the driver reconnects on the next statement)."""
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception as error:  # any failure means: not ready
        # A probe asks every few seconds: its request line says why, not a traceback.
        if not note_cause(describe(error)):
            log.warning("not ready: %s", describe(error))
        return JSONResponse({"status": "unavailable"}, status_code=503,
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})  # fmt: skip
    return JSONResponse({"status": "ok"})


async def prepare_database(settings: Settings) -> None:
    """Migrate the schema, make sure an admin exists, and fill demo data."""
    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    with default_region(settings.default_region):  # the migrations read stored numbers
        await init_database(settings.tortoise_db_url())
    secret = await ensure_admin(settings.admin_token)
    if secret is not None:
        print(
            "Created an admin user. Its API token, shown only this once:\n"
            f"    {secret}\n"
            "Send it as `Authorization: Bearer <token>`.",
            flush=True,
        )
    if settings.demo:
        from demo import fill_demo_data  # only loaded when asked for

        summary = await fill_demo_data()
        if summary is not None and summary.accounts:
            print(f"Demo data: {summary}", flush=True)


def build_app(
    settings: Settings, *, prepare: bool = True, tracing: Tracing | None = None
) -> Starlette:
    """The ASGI application. With ``prepare``, start-up also runs ``prepare_database``.
    Traced when ``settings.trace_exporters`` names exporters (or ``tracing`` is given);
    otherwise nothing of OpenTelemetry is imported."""
    if 0 < settings.rate_limit_points < MAX_COST:
        raise ValueError(
            f"The rate limit ({settings.rate_limit_points} points a minute) must allow at "
            f"least one query of the largest cost ({MAX_COST}), or be 0 (off)."
        )
    limiter = build_rate_limiter(settings.rate_limit_points, settings.redis_url)
    if tracing is None and settings.trace_exporters:
        from tracing import Tracing  # only loaded when traces are configured

        tracing = Tracing.from_names(settings.trace_exporters)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if limiter is not None:
            try:
                await limiter.ping()  # a configured Redis that cannot be reached stops start-up
            except Exception:
                await limiter.close()
                raise
        if prepare:
            await prepare_database(settings)
        else:
            with default_region(settings.default_region):
                await init_database(settings.tortoise_db_url())
        # What start-up built (schema, modules: ~90k objects) lives as long as the process:
        # out of the collector's generations, full collections look at request objects only.
        gc.freeze()
        # A request allocates tens of thousands of objects and frees them without cycles
        # (``Loaders.close``): collecting the youngest generation every 700 allocations
        # only walks them again (3-6 % of a list request's instructions). Older
        # generations keep their thresholds, relative to this one.
        gc.set_threshold(GC_YOUNGEST_THRESHOLD, *gc.get_threshold()[1:])
        try:
            yield
        finally:
            await close_database()
            if limiter is not None:
                await limiter.close()
            if tracing is not None:
                tracing.close()
            worker_exited()

    graphql_schema = schema
    if tracing is not None:
        graphql_schema = tracing.schema(schema)
        tracing.trace_statements()
    graphql = GraphQLApp(graphql_schema, limiter, fast_execution=settings.fast_execution)
    routes = [
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/export/contacts.csv", export_contacts, methods=["GET"]),
        Route("/export/contacts.xlsx", export_contacts, methods=["GET"]),
        Route("/documents/{id}", download_document, methods=["GET"]),
        Route("/import/template.csv", import_template, methods=["GET"]),
        Route("/import/template.xlsx", import_template, methods=["GET"]),
        Route(graphiql.PREFIX + "{name}", graphiql.asset, methods=["GET"]),
    ]
    count_statements()
    store = storage.build(
        settings.storage_dir, settings.storage_url, max_bytes=settings.max_upload_bytes,
        content_types=settings.document_types, endpoint=settings.bucket_endpoint,
        region=settings.bucket_region,
    )  # fmt: skip
    middleware = [
        Middleware(DefaultRegion, region=settings.default_region),
        Middleware(TimeZone, name=settings.time_zone),
        Middleware(MetricsMiddleware),
        Middleware(RequestLog),
    ]
    if tracing is not None:  # inside RequestLog: its spans know the request's record
        middleware.append(tracing.middleware())
    if settings.cors_origins:
        middleware.append(Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", "Idempotency-Key",
                           *PREFLIGHT_HEADERS],
            expose_headers=["Retry-After", "X-Request-ID", "Idempotent-Replayed"],
            max_age=600,
        ))  # fmt: skip
    middleware.append(
        Middleware(BodyLimit, max_bytes=settings.max_body_bytes,
                   max_upload_bytes=settings.max_upload_bytes)
    )  # fmt: skip
    middleware.append(Middleware(DatabaseOutage))
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.rate_limiter = limiter
    app.state.storage = store
    app.state.tracing = tracing
    return app


def create_app() -> Starlette:
    """Factory for uvicorn workers: settings from the environment, database already prepared."""
    settings = load_settings([])
    configure_logging(settings.log_format)
    return build_app(settings, prepare=False)


class OneLineOutages(logging.Filter):
    """A driver's own log of a lost database (asyncpg's pool retries its minimum size every
    minute at most) in one line, without the traceback: the outage is news, not its stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and database_unavailable(error):
            record.msg, record.args = f"{record.getMessage()} ({describe(error)})", ()
            record.exc_info = record.exc_text = None
        return True


def quiet_driver_outages() -> None:
    pool_log = logging.getLogger("asyncpg.pool")
    if not any(isinstance(f, OneLineOutages) for f in pool_log.filters):
        pool_log.addFilter(OneLineOutages())


def main(argv: Sequence[str]) -> None:
    migrate = argv[:1] == ["migrate"]  # `server.py migrate [--database-url ...]`
    settings = load_settings(argv[1:] if migrate else argv)
    configure_logging(settings.log_format)
    quiet_driver_outages()
    if migrate:
        asyncio.run(migrate_database(settings))
        return
    if settings.workers == 1:
        # Our logging throughout, and no access log of uvicorn's: it writes query strings.
        uvicorn.run(build_app(settings), host=settings.host, port=settings.port,
                    timeout_graceful_shutdown=settings.graceful_timeout,
                    log_config=None, access_log=False)  # fmt: skip
        return
    if settings.rate_limit_points and not settings.redis_url:
        log.warning("%d workers without CRM_REDIS_URL: each keeps its own rate limit budget",
                    settings.workers)  # fmt: skip
    asyncio.run(_prepare_once(settings))
    # Workers rebuild their settings from the environment.
    os.environ.update(settings.environment())
    # Metrics of all workers, summed on any worker's /metrics.
    with shared_between_workers(Path("data")):
        uvicorn.run(
            "server:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            timeout_graceful_shutdown=settings.graceful_timeout,
            log_config=None,
            access_log=False,
        )


async def migrate_database(settings: Settings) -> None:
    """Apply the pending migrations (and build the search indexes), then return."""
    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    with default_region(settings.default_region):
        applied = await init_database(settings.tortoise_db_url())
    await close_database()
    print(f"Applied {', '.join(applied)}." if applied else "No migrations to apply.", flush=True)


async def _prepare_once(settings: Settings) -> None:
    await prepare_database(settings)
    await close_database()


if __name__ == "__main__":
    main(sys.argv[1:])
