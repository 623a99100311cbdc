"""The schema: root Query and Mutation assembled from the domains."""

from __future__ import annotations

import strawberry
from strawberry.tools import merge_types

from schema.accounts import AccountMutation, AccountQuery, LocationMutation
from schema.activities import ActivityMutation, ActivityQuery
from schema.audit import AuditQuery
from schema.contacts import ContactMutation, ContactQuery
from schema.extensions import CodedErrors, PerOperationLoaders
from schema.node import NodeQuery
from schema.users import UserMutation, UserQuery

Query = merge_types(
    "Query", (NodeQuery, AccountQuery, ContactQuery, ActivityQuery, UserQuery, AuditQuery)
)
Mutation = merge_types(
    "Mutation", (AccountMutation, LocationMutation, ContactMutation, ActivityMutation, UserMutation)
)

Query.__strawberry_definition__.description = "Everything a client can read."
Mutation.__strawberry_definition__.description = "Everything a client can change."

schema = strawberry.Schema(
    query=Query, mutation=Mutation, extensions=[PerOperationLoaders, CodedErrors]
)
