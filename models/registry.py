"""The entity registry: one declaration per stored entity, read by every layer.

What used to be six hand-kept tables looked up by string (the id codec's type names, the
by-id loaders, the access paths, the token areas, the test table lists, the docs' tables)
is derived from these entries. Adding an entity is one model module, one entry here, and
the modules of the other layers that give it a meaning (its node type, its queries).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum, StrEnum

from tortoise.models import Model

from models import (
    Account,
    Activity,
    ApiToken,
    AuditEvent,
    Channel,
    Contact,
    ContactImport,
    CustomFieldDefinition,
    Document,
    ImportRowError,
    Location,
    Team,
    User,
)


class Area(StrEnum):
    """What a token scope names (``contacts:read``); each entity belongs to one."""

    ACCOUNTS = "accounts"
    CONTACTS = "contacts"
    ACTIVITIES = "activities"
    AUDIT = "audit"
    USERS = "users"


class Visibility(Enum):
    """Which rows of an entity a caller who does not see everything sees (rule 8)."""

    ACCOUNT = "account"  # the rows of the accounts they see: ``account_column`` holds its id
    PARENT = "parent"  # the rows whose ``parent`` entity row they see
    OWN = "own"  # their own rows (``own_column`` holds their user id)
    DIRECTORY = "directory"  # every row: the user directory is open to every signed-in user
    AUDITORS = "auditors"  # the whole table for auditors; others through the entity it names


@dataclass(frozen=True, slots=True)
class Entity:
    """A stored entity: its GraphQL type name (also its global ids' prefix), its model, the
    token area its fields belong to, and who sees its rows."""

    name: str
    model: type[Model]
    area: Area
    visibility: Visibility
    account_column: str | None = None  # ACCOUNT: the column holding the row's account id
    parent: tuple[str, str] | None = None  # PARENT: (the column, the parent entity's name)
    own_column: str = "user_id"  # OWN: the column holding the user whose row it is
    searched: bool = False  # free-text search over an indexed ``search_text`` column
    tagged: bool = False  # filtered on its JSON ``tags`` list
    # The fields whose changes its audit events record (never a secret or its hash).
    audited: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        return self.model._meta.db_table


class Registry:
    """The entities in declaration order: parents before the entities that point at them."""

    def __init__(self, *entities: Entity) -> None:
        self._by_name = {entity.name: entity for entity in entities}
        self._by_model = {entity.model: entity for entity in entities}

    def __iter__(self) -> Iterator[Entity]:
        return iter(self._by_name.values())

    def __getitem__(self, name: str) -> Entity:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def of(self, model: type[Model]) -> Entity | None:
        return self._by_model.get(model)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._by_name)


_ADDRESS = ("street", "exterior_number", "interior_number", "neighborhood", "district", "city",
            "province", "state", "postal_code", "reference")  # fmt: skip

ENTITIES = Registry(
    Entity("Team", Team, Area.USERS, Visibility.DIRECTORY),
    Entity("User", User, Area.USERS, Visibility.DIRECTORY,
           audited=("name", "email", "role", "team_id", "is_active")),
    Entity("ApiToken", ApiToken, Area.USERS, Visibility.OWN,
           audited=("name", "user_id", "scopes", "allowed_fields", "expires_at")),
    Entity("CustomFieldDefinition", CustomFieldDefinition, Area.ACCOUNTS, Visibility.DIRECTORY,
           audited=("entity", "key", "label", "type", "options", "required", "archived")),
    Entity("Account", Account, Area.ACCOUNTS, Visibility.ACCOUNT, account_column="id",
           searched=True, tagged=True,
           audited=("name", "legal_name", "tax_id", "industry", "website", "email", "phone",
                    "is_vip", "status", "owner_id", "tags", "custom_fields")),
    Entity("Location", Location, Area.ACCOUNTS, Visibility.ACCOUNT, account_column="account_id",
           searched=True,
           audited=("account_id", "contact_id", "kind", "name", *_ADDRESS, "country",
                    "is_default")),
    Entity("Contact", Contact, Area.CONTACTS, Visibility.ACCOUNT, account_column="account_id",
           searched=True, tagged=True,
           audited=("salutation", "first_name", "last_name", "job_title", "role", "home_phone",
                    "birthday", "image_url", "document_type", "document_number", "is_vip",
                    "is_preferred", "portal_user", "email_opt_out", "lead_source",
                    "converted_from_lead", "status", "account_id", "location_id", "owner_id",
                    "default_shipping_address_id", "tags", "custom_fields")),
    Entity("Channel", Channel, Area.CONTACTS, Visibility.PARENT, parent=("contact_id", "Contact")),
    Entity("Activity", Activity, Area.ACTIVITIES, Visibility.ACCOUNT,
           account_column="account_id", searched=True,
           audited=("kind", "subject", "body", "status", "starts_at", "ends_at", "due_at",
                    "completed_at", "duration_seconds", "call_direction", "account_id",
                    "location_id", "contact_id", "owner_id")),
    Entity("Document", Document, Area.CONTACTS, Visibility.ACCOUNT, account_column="account_id",
           audited=("name", "kind", "content_type", "byte_size", "sha256", "review_status",
                    "review_note", "reviewed_by_id", "uploaded_by_id", "account_id",
                    "contact_id")),
    Entity("AuditEvent", AuditEvent, Area.AUDIT, Visibility.AUDITORS, searched=True),
    # An import is its importer's; admins and managers see every import (they see every row
    # it could have written). Its row errors are seen with it.
    Entity("ContactImport", ContactImport, Area.CONTACTS, Visibility.OWN,
           own_column="created_by_id"),
    Entity("ImportRowError", ImportRowError, Area.CONTACTS, Visibility.PARENT,
           parent=("contact_import_id", "ContactImport")),
)  # fmt: skip
