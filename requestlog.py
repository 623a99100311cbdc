"""One structured log line per HTTP request, and the request id that ties it to the
response (``X-Request-ID``) and to the ``requestId`` of its masked errors.

The line says who asked and what it cost, never what was asked: no query text, variable
values, search terms or tokens (``RequestLog`` logs the path without its query string).
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
import time
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TextIO

import orjson
import structlog
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import metrics

HEADER = "x-request-id"
# What a proxy's or a client's id may look like to be kept (UUIDs, hex, base64, trace ids).
_VALID_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}", re.ASCII)

LOGGER_NAME = "crm.requests"


@dataclass(slots=True)
class RequestRecord:
    """What the request's line will say; the layers that learn a field fill it in."""

    request_id: str
    statements: int = 0
    operation_name: str | None = None
    operation_type: str | None = None
    user_id: int | None = None
    token_id: int | None = None
    # The response's error codes (``extensions.code``), then its payloads' UserError codes.
    error_codes: tuple[str, ...] = ()
    user_error_codes: list[str] = field(default_factory=list)
    cost: int | None = None
    # Why it failed, when the database was out of reach (``engine.outage.describe``).
    cause: str | None = None
    # The trace it belongs to, when tracing is on (``tracing.RequestIds``).
    trace_id: str | None = None
    # Operations run over a WebSocket connection.
    operations: int = 0

    def codes(self) -> tuple[str, ...]:
        return (*self.error_codes, *self.user_error_codes)


CURRENT: ContextVar[RequestRecord | None] = ContextVar("crm_request", default=None)


def new_request_id() -> str:
    return secrets.token_hex(8)


def request_id() -> str:
    """The current request's id; a fresh one outside an HTTP request (a WebSocket)."""
    record = CURRENT.get()
    return record.request_id if record is not None else new_request_id()


def current() -> RequestRecord | None:
    return CURRENT.get()


def note_cause(cause: str) -> bool:
    """The current request's line will say why it failed; False outside a request."""
    record = CURRENT.get()
    if record is None:
        return False
    record.cause = record.cause or cause
    return True


def note_user_errors(codes: Iterable[str]) -> None:
    """A mutation payload's UserError codes, for the request's line and metrics."""
    record = CURRENT.get()
    if record is not None:
        record.user_error_codes.extend(codes)


def client_request_id(value: str | None) -> str:
    """The client's (or proxy's) ``X-Request-ID`` when it looks like an id, else a new one."""
    if value is not None and _VALID_ID.fullmatch(value):
        return value
    return new_request_id()


class RequestLog:
    """Plain ASGI middleware: the request's id and record, its ``X-Request-ID`` response
    header, and its one line once the response is sent; a WebSocket's line when it ends
    (its id in the handshake's ``X-Request-ID``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record = RequestRecord(client_request_id(Headers(scope=scope).get(HEADER)))
        token = CURRENT.set(record)
        header = (HEADER.encode(), record.request_id.encode())
        status = 500
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            CURRENT.reset(token)
            duration = time.perf_counter() - started
            codes = record.codes()
            metrics.observe_request(record.operation_type, record.operation_name, codes,
                                    record.statements, duration, request_id=record.request_id,
                                    trace_id=record.trace_id)  # fmt: skip
            _write(
                "request",
                record,
                request_id=record.request_id,
                method=scope["method"],
                path=scope["path"],
                operation_name=record.operation_name,
                operation_type=record.operation_type,
                user_id=record.user_id,
                token_id=record.token_id,
                status=status,
                error_codes=list(codes),
                duration_ms=round(duration * 1000, 3),
                cost=record.cost,
                statements=record.statements,
            )

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket connection is one record for its whole life: its operations, their
        statements, who signed in, and how it closed (the first close either side sent;
        1011 if the server failed, as uvicorn then closes it)."""
        record = RequestRecord(client_request_id(Headers(scope=scope).get(HEADER)))
        token = CURRENT.set(record)
        header = (HEADER.encode(), record.request_id.encode())
        close_code: int | None = None
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal close_code
            kind = message["type"]
            if kind in ("websocket.accept", "websocket.http.response.start"):
                message["headers"] = [*message.get("headers", ()), header]
            if kind == "websocket.http.response.start" and close_code is None:
                close_code = message["status"]  # refused before the handshake: an HTTP status
            elif kind == "websocket.close" and close_code is None:
                close_code = message.get("code", 1000)
            await send(message)

        async def receiving() -> Message:
            nonlocal close_code
            message = await receive()
            if message["type"] == "websocket.disconnect" and close_code is None:
                close_code = message.get("code", 1005)
            return message

        try:
            await self.app(scope, receiving, sending)
        except Exception:
            close_code = close_code or 1011
            raise
        finally:
            CURRENT.reset(token)
            _write(
                "websocket",
                record,
                request_id=record.request_id,
                path=scope["path"],
                user_id=record.user_id,
                token_id=record.token_id,
                operations=record.operations,
                close_code=close_code,
                error_codes=list(record.codes()),
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                statements=record.statements,
            )


def _write(event: str, record: RequestRecord, **fields: Any) -> None:
    """The line: a warning when the database was out of reach (its cause in it)."""
    if record.trace_id is not None:
        fields["trace_id"] = record.trace_id
    if record.cause is None:
        _line.info(event, logger=LOGGER_NAME, **fields)
    else:
        _line.warning(event, logger=LOGGER_NAME, cause=record.cause, **fields)


class _StatementLogger(logging.Logger):
    """Tortoise calls ``debug`` on ``tortoise.db_client`` for each statement it sends:
    counted into the current request's record (whichever of its tasks sends it) before the
    level is checked, so counting builds no log record (a record costs ~9 µs, this ~0.3)."""

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        current = CURRENT.get()
        if current is not None:
            current.statements += 1
        if self.isEnabledFor(logging.DEBUG):
            kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1  # the caller: Tortoise
            self._log(logging.DEBUG, msg, args, **kwargs)


def count_statements() -> None:
    """Count every request's statements; the SQL is logged only if that logger is set to
    DEBUG, as before."""
    logger = logging.getLogger("tortoise.db_client")
    if type(logger) is logging.Logger:
        logger.__class__ = _StatementLogger


def _add_request_id(logger: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    """Every line logged during a request names it (the errors' lines too)."""
    record = CURRENT.get()
    if record is not None:
        event.setdefault("request_id", record.request_id)
        if record.trace_id is not None:
            event.setdefault("trace_id", record.trace_id)
    return event


def _json(event: dict[str, Any], **kwargs: Any) -> str:
    return orjson.dumps(event, default=str).decode()


_SHARED = [
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _add_request_id,
]


def formatter(log_format: str, stream: TextIO) -> logging.Formatter:
    """The log's lines: ``json`` for a log collector, ``text`` for a terminal."""
    if log_format == "json":
        renderer: Any = structlog.processors.JSONRenderer(serializer=_json)
        last = [structlog.processors.format_exc_info]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty())
        last = []
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *last, renderer],
    )


def _request_lines(log_format: str, stream: TextIO) -> Any:
    """The request lines' own logger: straight to the stream, without the standard
    library's records and handlers (~50 µs a line through them, ~10 this way)."""
    if log_format == "json":
        renderer: Any = structlog.processors.JSONRenderer(serializer=_json)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty())
    return structlog.wrap_logger(
        structlog.WriteLogger(stream),
        processors=[structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    ).bind()  # fmt: skip  # bound once: the lazy proxy would bind again on every line


_line: Any = _request_lines("text", sys.stderr)


def configure_logging(log_format: str, stream: TextIO | None = None) -> None:
    """Every log line (ours, uvicorn's, the drivers') in ``log_format`` on ``stream``
    (standard error)."""
    global _line
    stream = stream or sys.stderr
    _line = _request_lines(log_format, stream)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(log_format, stream))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.INFO)
