"""The schema: root Query and Mutation assembled from the domains."""

from __future__ import annotations

import strawberry
from graphql.execution.middleware import MiddlewareManager
from strawberry.extensions import SchemaExtension
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from engine.executor import FastExecutor
from engine.extensions import CodedErrors, PerOperationLoaders
from engine.guard import FieldGuard
from engine.hooks import PlannedHooksRunner
from engine.limits import PROTECTIONS
from schema.accounts import AccountMutation, AccountQuery
from schema.activities import ActivityMutation, ActivityQuery
from schema.audit import AuditQuery
from schema.channels import ChannelMutation
from schema.contacts import ContactMutation, ContactQuery
from schema.custom_fields import CustomFieldMutation, CustomFieldQuery
from schema.documents import DocumentMutation
from schema.imports import ImportMutation, ImportQuery
from schema.locations import LocationMutation, LocationQuery
from schema.node import NodeQuery
from schema.picklists import PicklistQuery
from schema.tags import TagQuery
from schema.users import UserMutation, UserQuery

Query = merge_types(
    "Query",
    (
        NodeQuery, AccountQuery, LocationQuery, ContactQuery, ActivityQuery, UserQuery,
        AuditQuery, ImportQuery, PicklistQuery, TagQuery, CustomFieldQuery,
    ),
)  # fmt: skip
Mutation = merge_types(
    "Mutation",
    (
        AccountMutation, LocationMutation, ContactMutation, ChannelMutation, ActivityMutation,
        DocumentMutation, UserMutation, ImportMutation, CustomFieldMutation,
    ),
)  # fmt: skip

Query.__strawberry_definition__.description = "Everything a client can read."
Mutation.__strawberry_definition__.description = "Everything a client can change."


class CrmSchema(strawberry.Schema):
    """Strawberry's schema with three changes: expected errors are not logged as crashes
    (``CodedErrors`` logs the unexpected ones with their request id), per-field extensions
    run only for the requests that need them (``FieldGuard`` for restricted tokens), so
    everyone else pays nothing per resolved field, and extensions' hooks are looked up once
    per class rather than per request (``engine.hooks``)."""

    def process_errors(self, errors, execution_context=None) -> None:
        return None

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> PlannedHooksRunner:
        return PlannedHooksRunner(execution_context=execution_context, extensions=extensions)

    def _get_middleware_manager(self, extensions: list[SchemaExtension]) -> MiddlewareManager:
        return MiddlewareManager(
            *(
                extension
                for extension in extensions
                if extension._implements_resolve() and getattr(extension, "active", True)
            )
        )


schema = CrmSchema(
    query=Query,
    mutation=Mutation,
    extensions=[PerOperationLoaders, *PROTECTIONS, FieldGuard, CodedErrors],
    execution_context_class=FastExecutor,
)
