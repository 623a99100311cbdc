"""Accounts: the node type, the root list, inputs, payloads and mutations."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING, Annotated, ClassVar

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON

from engine.connection import After, Before, Connection, First, Last, OrderDirection, page_args
from engine.lookahead import page_columns
from engine.relations import level_field, pages, reads, related
from engine.types import GraphInfo, Node, RowType, documented_enum, node_type
from models.registry import ENTITIES
from resolvers import accounts as account_work
from resolvers import activities as activity_work
from resolvers import audit_log
from resolvers import contacts as contact_work
from resolvers import documents as document_work
from resolvers import locations as location_work
from resolvers.access import Area
from resolvers.accounts import ACCOUNT_ORDER_KEYS
from resolvers.listing import ordering
from schema.common import INCLUDE_INACTIVE, RecordStatus, mutation, sort_keys
from schema.custom_fields import CustomFieldFilter
from schema.documents import DOCUMENT_FILTER
from schema.errors import UserError
from schema.locations import LocationFieldsInput

if TYPE_CHECKING:
    from schema.activities import Activity
    from schema.audit import AuditEvent
    from schema.contacts import Contact
    from schema.documents import Document
    from schema.locations import Location
    from schema.users import User
from schema.inputs import plain

field = strawberry.field
_ERRORS = "Why nothing was written, if so."

UserRef = Annotated["User", strawberry.lazy("schema.users")]
LocationRef = Annotated["Location", strawberry.lazy("schema.locations")]
ContactRef = Annotated["Contact", strawberry.lazy("schema.contacts")]
ActivityRef = Annotated["Activity", strawberry.lazy("schema.activities")]
AuditEventRef = Annotated["AuditEvent", strawberry.lazy("schema.audit")]
DocumentRef = Annotated["Document", strawberry.lazy("schema.documents")]


@reads()
async def _account_preferred(accounts: list, info: GraphInfo) -> list:
    """The preferred contact of each account's main location."""
    loaders = info.context.loaders
    mains = await loaders.main_location_by_account.load_many([a.row.id for a in accounts])
    preferred = loaders.preferred_contact_by_location
    found = iter(await preferred.load_many([main.id for main in mains if main is not None]))
    contact = node_type("Contact")
    return [None if main is None else contact.maybe(next(found)) for main in mains]


@strawberry.type(description="A customer company (cliente).")
class Account(RowType, Node, entity=ENTITIES["Account"]):
    _derived: ClassVar[dict[str, tuple[str, ...]]] = {"account_no": ("id",)}

    account_no: str = field(description="Generated account number, e.g. ACC-000042.")
    name: str = field(description="Trade name.")
    legal_name: str | None = field(description="Registered legal name (razón social).")
    tax_id: str | None = field(description="Tax id: RUC in Peru, RFC in Mexico.")
    industry: str | None = field(description="Industry or line of business.")
    website: str | None = field(description="Web site address.")
    email: str | None = field(description="General email address.")
    phone: str | None = field(description="General phone number.")
    is_vip: bool = field(description="High-priority customer.")
    status: RecordStatus = field(description="Active or inactive.")
    tags: list[str] = field(description="Free labels.")
    custom_fields: JSON = field(description="Additional fields (campos adicionales).")
    created_at: datetime = field(description="When the account was created.")
    updated_at: datetime = field(description="When the account last changed.")

    owner: UserRef | None = related(
        "owner_id", "User", description="The user responsible for the account."
    )
    locations: Connection[LocationRef] = pages(
        location_work.locations_pages_of, "Location",
        description="The account's sites: the main profile first, then outlets.",
    )  # fmt: skip
    main_location: LocationRef | None = related(
        "id", "Location", loader="main_location_by_account",
        description="The main location (main profile) of the account.",
    )  # fmt: skip
    contacts: Connection[ContactRef] = pages(
        partial(contact_work.contacts_pages_of, parent_column="account_id"), "Contact",
        include_inactive=INCLUDE_INACTIVE,
        description="Contacts at any of the account's locations, by last name.",
    )  # fmt: skip
    preferred_contact: ContactRef | None = level_field(
        _account_preferred, description="The preferred contact of the main location."
    )
    activities: Connection[ActivityRef] = pages(
        partial(activity_work.activities_pages_of, parent_column="account_id"), "Activity",
        description="Activities with the account, newest first.",
    )  # fmt: skip
    documents: Connection[DocumentRef] = pages(
        partial(document_work.documents_pages_of, parent_column="account_id"), "Document",
        filter=DOCUMENT_FILTER,
        description="Files at the account, its contacts' included, newest first.",
    )  # fmt: skip
    audit_events: Connection[AuditEventRef] = pages(
        partial(audit_log.events_pages_of, resource_type="Account"), "AuditEvent",
        description="The account's change history, newest first.",
    )  # fmt: skip


AccountSearch = Annotated[
    str | None,
    strawberry.argument(
        description="Free text over names, legal name, tax id, email, phone digits and account "
        "number; accent- and case-insensitive ('andina' finds 'Distribuidora Andina')."
    ),
]


# ---------------------------------------------------------------- ordering and filters


class AccountOrderField(Enum):
    NAME = "NAME"
    ACCOUNT_NO = "ACCOUNT_NO"
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"


documented_enum(
    AccountOrderField,
    "What accounts can be sorted by; ties break on the account number.",
    {
        "NAME": "Trade name.",
        "ACCOUNT_NO": "Account number (creation order).",
        "CREATED_AT": "Creation time.",
        "UPDATED_AT": "Time of the last change.",
    },
)
assert {f.value for f in AccountOrderField} == ACCOUNT_ORDER_KEYS.keys()


@strawberry.input(description="One sort key of the account list.")
class AccountOrder:
    field: AccountOrderField = strawberry.field(description="What to sort by.")
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.ASC, description="Ascending (default) or descending."
    )


@strawberry.input(description="Which accounts to list. Inactive ones are hidden by default.")
class AccountFilter:
    status: RecordStatus | None = field(
        default=None, description="Only accounts with this status (INACTIVE shows hidden ones)."
    )
    include_inactive: bool = field(default=False, description="List inactive accounts too.")
    owner_id: strawberry.ID | None = field(default=None, description="Only this user's.")
    is_vip: bool | None = field(default=None, description="Only VIP (true) or non-VIP (false).")
    industry: str | None = field(default=None, description="Only this industry (exact).")
    tag: str | None = field(default=None, description="Only accounts with this tag.")
    custom_field: CustomFieldFilter | None = field(
        default=None, description="Only accounts whose custom field matches."
    )
    created_after: datetime | None = field(default=None, description="Created at or after.")
    created_before: datetime | None = field(default=None, description="Created before.")


# ---------------------------------------------------------------- inputs


@strawberry.input(description="A new account; its MAIN location is created with it.")
class CreateAccountInput:
    name: str = field(description="Trade name; required, at most 200 characters.")
    legal_name: str | None = field(default=None, description="Registered legal name.")
    tax_id: str | None = field(
        default=None,
        description="Tax id by the main location's country (else the server's region): a RUC "
        "in PE, an RFC in MX, text elsewhere.",
    )
    industry: str | None = field(default=None, description="Industry or line of business.")
    website: str | None = field(default=None, description="http:// or https:// address.")
    email: str | None = field(default=None, description="General email address.")
    phone: str | None = field(default=None, description="General phone number.")
    is_vip: bool = field(default=False, description="High-priority customer.")
    owner_id: strawberry.ID | None = field(
        default=None, description="Responsible user; default: the viewer."
    )
    tags: list[str] | None = field(default=None, description="Free labels (at most 20).")
    custom_fields: JSON | None = field(default=None, description="Flat object of extra fields.")
    main_location: LocationFieldsInput | None = field(
        default=None, description="Address of the MAIN location; default: no address."
    )


@strawberry.input(description="Changes to an account; fields left out stay as they are.")
class UpdateAccountInput:
    id: strawberry.ID = field(description="The account to change.")
    name: str | None = field(default=UNSET, description="Trade name; cannot be cleared.")
    legal_name: str | None = field(default=UNSET, description="Registered legal name.")
    tax_id: str | None = field(
        default=UNSET, description="Tax id, checked by the main location's country as on create."
    )
    industry: str | None = field(default=UNSET, description="Industry or line of business.")
    website: str | None = field(default=UNSET, description="http:// or https:// address.")
    email: str | None = field(default=UNSET, description="General email address.")
    phone: str | None = field(default=UNSET, description="General phone number.")
    is_vip: bool | None = field(default=UNSET, description="High-priority customer.")
    status: RecordStatus | None = field(
        default=UNSET, description="INACTIVE hides the account from lists; it keeps its data."
    )
    owner_id: strawberry.ID | None = field(
        default=UNSET, description="Responsible user; null: nobody."
    )
    tags: list[str] | None = field(default=UNSET, description="Replace the labels.")
    custom_fields: JSON | None = field(default=UNSET, description="Replace the extra fields.")


# ---------------------------------------------------------------- payloads


@strawberry.type(description="Result of createAccount.")
class CreateAccountPayload:
    account: Account | None = field(description="The new account, with its MAIN location.")
    errors: list[UserError] = field(default_factory=list, description=_ERRORS)


@strawberry.type(description="Result of updateAccount.")
class UpdateAccountPayload:
    account: Account | None = field(description="The account after the change.")
    errors: list[UserError] = field(default_factory=list, description=_ERRORS)


# ---------------------------------------------------------------- root lists

AccountOrderBy = Annotated[
    list[AccountOrder] | None,
    strawberry.argument(description="Sort keys, first wins; default NAME ascending."),
]
AccountFilterArg = Annotated[
    AccountFilter | None, strawberry.argument(description="Which accounts.")
]


@strawberry.type
class AccountQuery:
    @field(description="Accounts (customer companies), active ones unless the filter says so.")
    async def accounts(
        self, info: GraphInfo, filter: AccountFilterArg = None, order_by: AccountOrderBy = None,
        search: AccountSearch = None, first: First = None, after: After = None,
        last: Last = None, before: Before = None,
    ) -> Connection[Account]:  # fmt: skip
        access = info.context.access
        order = ordering(sort_keys(order_by), ACCOUNT_ORDER_KEYS, "NAME")
        args = page_args(first, after, last, before)
        columns = page_columns(info, Account)
        page = await account_work.list_accounts(access, plain(filter), search, order, args, columns)
        return Connection.of(page, Account.from_rows)


# ---------------------------------------------------------------- mutations


@strawberry.type
class AccountMutation:
    create_account = mutation(
        account_work.create_account,
        CreateAccountInput,
        CreateAccountPayload,
        area=Area.ACCOUNTS,
        returns={"account": "Account"},
        description="Create an account together with its MAIN location.",
        argument="The new account.",
    )

    update_account = mutation(
        account_work.update_account,
        UpdateAccountInput,
        UpdateAccountPayload,
        area=Area.ACCOUNTS,
        returns={"account": "Account"},
        description="Change an account; only the fields sent change.",
        argument="The changes.",
    )
