"""Tables and constraints, one module per domain. Nothing here knows about GraphQL."""

from models.accounts import Account
from models.activities import Activity
from models.audit import AuditEvent
from models.channels import Channel
from models.contacts import Contact
from models.custom_fields import CustomFieldDefinition
from models.documents import Document
from models.idempotency import IdempotencyKey
from models.imports import ContactImport, ImportRowError
from models.locations import Location
from models.outbox import Outbox
from models.users import ApiToken, Team, User

__all__ = [
    "Account",
    "Activity",
    "ApiToken",
    "AuditEvent",
    "Channel",
    "Contact",
    "ContactImport",
    "CustomFieldDefinition",
    "Document",
    "IdempotencyKey",
    "ImportRowError",
    "Location",
    "Outbox",
    "Team",
    "User",
]
