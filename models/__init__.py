"""Tables and constraints. Nothing here knows about GraphQL."""

from models.account import Account, Location
from models.activity import Activity, AuditEvent
from models.contact import Channel, Contact
from models.outbox import Outbox
from models.user import ApiToken, Team, User

__all__ = [
    "Account",
    "Activity",
    "ApiToken",
    "AuditEvent",
    "Channel",
    "Contact",
    "Location",
    "Outbox",
    "Team",
    "User",
]
