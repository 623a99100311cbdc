"""Schema extensions: errors as callers see them (coded, never a stack trace or SQL), and
loaders scoped to one operation."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension

from resolvers.context import RequestContext
from resolvers.errors import RequestError
from resolvers.loaders import Loaders

log = logging.getLogger("crm.errors")


def coded(error: GraphQLError) -> GraphQLError:
    """The error a caller sees for ``error``: coded, and masked when unexpected."""
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
        if error.extensions and "code" in error.extensions:
            return error
        if original is not None:
            return GraphQLError(
                error.message, nodes=error.nodes, extensions={"code": "BAD_USER_INPUT"}
            )
        code = (
            "GRAPHQL_PARSE_FAILED"
            if "Syntax Error" in error.message
            else "GRAPHQL_VALIDATION_FAILED"
        )
        return GraphQLError(
            error.message, nodes=error.nodes, path=error.path, extensions={"code": code}
        )
    request_id = uuid.uuid4().hex[:16]
    log.error("request %s failed at %s", request_id, error.path, exc_info=original)
    return GraphQLError(
        "Internal server error.",
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


class PerOperationLoaders(SchemaExtension):
    """A WebSocket keeps one context for many operations: loaders must not outlive one."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, RequestContext):
            context.loaders = Loaders()
        yield


class CodedErrors(MaskErrors):
    """Every error leaves coded; unexpected ones masked (HTTP and WebSocket results alike)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: True)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return coded(error)
