"""Schema extensions: errors as callers see them (coded, never a stack trace, SQL or a map of
the schema), and loaders scoped to one operation."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension

from engine.context import OperationContext
from engine.errors import RequestError
from engine.limits import parser_limit_code, without_suggestions
from engine.outage import RETRY_AFTER_SECONDS, database_unavailable, describe
from requestlog import current as current_record
from requestlog import note_cause
from requestlog import request_id as current_request_id

log = logging.getLogger("crm.errors")


def coded(error: GraphQLError, *, suggestions: bool = False) -> GraphQLError:
    """The error a caller sees for ``error``: coded, and masked when unexpected.
    ``suggestions``: keep graphql-core's "Did you mean …?" (admins only: they map the
    schema for anyone who guesses names)."""
    original = error.original_error
    if isinstance(original, RequestError):
        extensions = {"code": original.code}
        if original.argument:
            extensions["argument"] = original.argument
        return GraphQLError(
            original.message, nodes=error.nodes, path=error.path, extensions=extensions
        )
    if original is None or error.path is None:
        # Parse, validation and variable errors: the request is wrong, and says where.
        message = error.message if suggestions else without_suggestions(error.message)
        extensions = dict(error.extensions or {})
        if "code" not in extensions:
            if original is not None:
                extensions["code"] = "BAD_USER_INPUT"
            elif message.startswith("Syntax Error"):
                extensions["code"] = parser_limit_code(message) or "GRAPHQL_PARSE_FAILED"
            else:
                extensions["code"] = "GRAPHQL_VALIDATION_FAILED"
        return GraphQLError(message, nodes=error.nodes, path=error.path, extensions=extensions)
    request_id = current_request_id()
    log.error("request %s failed at %s", request_id, error.path, exc_info=original)
    return GraphQLError(
        "Internal server error.",
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


class PerOperationLoaders(SchemaExtension):
    """A WebSocket keeps one context for many operations: loaders must not outlive one, and
    its token is checked again before each. When an operation ends its loaders let go of
    what they loaded, so its rows are freed at once rather than by the cycle collector.
    Each operation counts in its request's record (a WebSocket's line says how many ran)."""

    async def on_operation(self) -> AsyncIterator[None]:
        record = current_record()
        if record is not None:
            record.operations += 1
        context = self.execution_context.context
        if isinstance(context, OperationContext):
            await context.start_operation()
        try:
            yield
        finally:
            if isinstance(context, OperationContext):
                context.end_operation()


def unavailable(error: GraphQLError, request_id: str) -> GraphQLError:
    """The error a caller sees when the database could not be reached."""
    extensions = {"code": "SERVICE_UNAVAILABLE", "requestId": request_id,
                  "retryAfter": RETRY_AFTER_SECONDS}  # fmt: skip
    return GraphQLError(
        f"The service is unavailable for a moment; retry in {RETRY_AFTER_SECONDS} s.",
        nodes=error.nodes, path=error.path, extensions=extensions,
    )  # fmt: skip


class CodedErrors(MaskErrors):
    """Every error leaves coded; unexpected ones masked (HTTP and WebSocket results alike)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: True)
        # An outage fails every field that reads: one request id and one cause for all.
        self.outage_id: str | None = None

    def _process_result(self, result: object) -> None:
        # What MaskErrors does, without its runtime Protocol check on every result.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if database_unavailable(error.original_error):
            if self.outage_id is None:
                self.outage_id = current_request_id()
                # The request's line carries the cause; outside one, a line of its own.
                if not note_cause(describe(error.original_error)):
                    log.warning("request %s: database unavailable (%s)", self.outage_id,
                                describe(error.original_error))  # fmt: skip
            return unavailable(error, self.outage_id)
        context = self.execution_context.context
        return coded(error, suggestions=getattr(context, "suggestions", False))
