"""Locations: an account's sites and a contact's own addresses; lists and mutations."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from engine.pagination import Ordering, Page, PageArgs, SortKey, paginate
from models import Account, Contact, Location
from models.enums import CONTACT_ADDRESS_KINDS, AuditAction, LocationKind
from models.registry import ENTITIES
from resolvers import audit
from resolvers import validation as check
from resolvers.access import Access
from resolvers.errors import ProblemCode, Problems, Rejected
from resolvers.listing import filter_id, searched, with_equal
from resolvers.loaders import Loaders
from resolvers.unit_of_work import Unit, change

LOCATION_ORDER_KEYS = {
    "NAME": (SortKey("name"),),
    "CITY": (SortKey("city", nullable=True), SortKey("name")),
    "CREATED_AT": (SortKey("created_at", kind=datetime),),
}
# The account's sites in creation order: the MAIN location, made with the account, comes first.
SITE_ORDER = Ordering.of(SortKey("id", kind=int))


def locations_queryset(access: Access, filter: Any, search: str | None) -> QuerySet[Location]:
    query = access.rows(Location)
    if filter is not None:
        query = with_equal(query, filter, "kind", "country", "city", "state")
        if filter.account_id is not None:
            query = query.filter(account_id=filter_id(filter.account_id, "Account"))
    return searched(query, search)


async def list_locations(
    access: Access,
    filter: Any,
    search: str | None,
    order: Ordering,
    args: PageArgs,
    columns: frozenset[str] | None = None,
) -> Page:
    return await paginate(locations_queryset(access, filter, search), order, args, columns)


def locations_pages_of(
    loaders: Loaders,
    account_ids: Sequence[int],
    args: PageArgs,
    columns: frozenset[str] | None = None,
) -> Awaitable[list[Page]]:
    """Accounts' sites (not their contacts' own addresses), a page each, in one batch."""
    loader = loaders.page_by_parent(
        "locations.account_id",
        Location,
        lambda: Location.filter(contact_id=None),
        "account_id",
        SITE_ORDER,
        args,
        columns=columns,
    )
    return loader.load_many(account_ids)


# ---------------------------------------------------------------- the region rule


async def region_of_site(location_id: int | None, account_id: int | None) -> str:
    """The region a contact's numbers are read in: its location's country, else its
    account's main location's, else the server's default (one statement).

    Changing a location's country later does not read the stored numbers again: their
    ``e164`` stays what it was when they were written (docs/canonical-data.md)."""
    wanted = [Q(id=location_id)] if location_id is not None else []
    if account_id is not None:
        wanted.append(Q(account_id=account_id, kind=LocationKind.MAIN))
    if not wanted:
        return check.region_of()
    rows = await Location.filter(Q(*wanted, join_type=Q.OR)).values("id", "country")
    countries = {row["id"]: row["country"] for row in rows}
    main = next((c for i, c in countries.items() if i != location_id), None)
    return check.region_of(countries.get(location_id), main)


# ---------------------------------------------------------------- input checks

# Address columns and their lengths; every one is optional free text except the country.
ADDRESS_FIELDS = (
    ("street", 255), ("exterior_number", 20), ("interior_number", 20), ("neighborhood", 120),
    ("district", 120), ("city", 120), ("province", 120), ("state", 120), ("postal_code", 12),
    ("reference", 255),
)  # fmt: skip

AUDITED_FIELDS = ENTITIES["Location"].audited


def check_address(
    problems: Problems, data: Any, prefix: tuple[str, ...] = (), *, creating: bool
) -> dict[str, Any]:
    """Validated address columns of an input; on update only the fields sent.

    ``prefix`` is the input path of a nested address (``mainLocation`` of createAccount).
    """
    values: dict[str, Any] = {}
    for name, limit in ADDRESS_FIELDS:
        raw = getattr(data, name, None)
        if creating or check.given(raw):
            values[name] = check.text(problems, (*prefix, check.camel(name)), raw, limit)
    raw_country = getattr(data, "country", None)
    if creating or check.given(raw_country):
        values["country"] = check.country(problems, (*prefix, "country"), raw_country)
    return values


def check_kind(problems: Problems, kind: LocationKind, contact_id: int | None) -> None:
    """The MAIN location comes only with its account; only a contact's own kinds take one."""
    if kind == LocationKind.MAIN:
        problems.add(
            ProblemCode.INVALID_KIND,
            "kind",
            "An account has exactly one MAIN location, created with the account.",
        )
    elif contact_id is not None and kind not in CONTACT_ADDRESS_KINDS:
        kinds = ", ".join(sorted(k.value for k in CONTACT_ADDRESS_KINDS))
        problems.add(
            ProblemCode.INVALID_KIND, "kind", f"A contact's own address is one of {kinds}."
        )


async def _contact_of(
    access: Access, problems: Problems, gid: Any, account: Account | None
) -> int | None:
    """The contact whose own address this is; it must work for the location's account."""
    contact = await access.find(problems, Contact, gid, "contactId")
    if contact is None:
        return None
    if account is not None and contact.account_id != account.id:
        problems.add(
            ProblemCode.CONTACT_MISMATCH,
            "contactId",
            f"{contact.full_name} works for another account, not for {account.name}.",
        )
        return None
    return contact.id


async def make_default(location: Location) -> None:
    """One default location per kind, among the account's sites or one contact's addresses:
    the others of its kind stop being the default. Call inside a transaction, before the
    location is written as the default (a contact's addresses have a partial unique index,
    ``uq_location_contact_default``, that a second default would break)."""
    siblings = Location.filter(
        account_id=location.account_id, contact_id=location.contact_id, kind=location.kind,
        is_default=True,
    )  # fmt: skip
    if location.id is not None:
        siblings = siblings.exclude(id=location.id)
    await siblings.update(is_default=False)


async def point_default_shipping(unit: Unit, location: Location) -> None:
    """``Contact.defaultShippingAddress`` follows its default ``SHIPPING`` address: set when
    one becomes the default, cleared when that one stops being it (a deleted address clears
    it by its foreign key). In ``unit``, which holds the contact's lock; audited on the
    contact."""
    if location.contact_id is None:
        return
    contact = await Contact.get(id=location.contact_id)
    was = contact.default_shipping_address_id
    if location.kind == LocationKind.SHIPPING and location.is_default:
        now = location.id
    else:
        now = None if was == location.id else was
    if now == was:
        return
    contact.default_shipping_address_id = now
    await contact.save_changes("default_shipping_address_id")
    await unit.record(
        AuditAction.UPDATED, contact, contact.full_name,
        {"defaultShippingAddressId": {"from": was, "to": now}},
    )  # fmt: skip


async def new_location(unit: Unit, values: dict[str, Any]) -> Location:
    """Insert a location with its search text and audit event, in ``unit``."""
    location = Location(**values)
    location.search_text = location.search_document()
    if location.is_default:
        await make_default(location)
    await location.save()
    await unit.record(
        AuditAction.CREATED, location, location.name,
        audit.diff({}, audit.snapshot(location, AUDITED_FIELDS)),
    )  # fmt: skip
    await point_default_shipping(unit, location)
    return location


# ---------------------------------------------------------------- mutations


async def create_location(access: Access, data: Any) -> Location:
    """createLocation; raises Rejected with every problem found, having written nothing."""
    problems = Problems()
    account = await access.find(problems, Account, data.account_id, "accountId")
    name = check.text(problems, "name", data.name, 200, required=True)
    address = check_address(problems, data, creating=True)
    contact_id = await _contact_of(access, problems, data.contact_id, account)
    check_kind(problems, data.kind, contact_id)
    if problems:
        raise Rejected(problems.items)
    # A new default location un-defaults its siblings: writers of one account's defaults queue,
    # and a contact's address moves the contact's defaultShippingAddress.
    async with change(
        access.user,
        accounts=[account.id] if data.is_default else [],
        contacts=[contact_id] if contact_id is not None else [],
    ) as unit:
        return await new_location(
            unit,
            {
                **address,
                "account_id": account.id,
                "contact_id": contact_id,
                "kind": data.kind,
                "name": name,
                "is_default": bool(data.is_default),
            },
        )


async def update_location(access: Access, data: Any) -> Location:
    viewer = access.user
    problems = Problems()
    location = await access.find(problems, Location, data.id, "id")
    if location is None:
        raise Rejected(problems.items)
    values = check_address(problems, data, creating=False)
    if check.given(data.name):
        values["name"] = check.text(problems, "name", data.name, 200, required=True)
    if check.given(data.kind) and data.kind is not None and data.kind != location.kind:
        if LocationKind.MAIN in (data.kind, location.kind):
            problems.add(
                ProblemCode.MAIN_LOCATION,
                "kind",
                "The MAIN location stays MAIN, and no other location can become MAIN.",
            )
        else:
            check_kind(problems, data.kind, location.contact_id)
            values["kind"] = data.kind
    if check.given(data.is_default) and data.is_default is not None:
        values["is_default"] = data.is_default
    if problems:
        raise Rejected(problems.items)
    defaulting = values.get("is_default", location.is_default)
    async with change(
        viewer,
        accounts=[location.account_id] if defaulting else [],
        contacts=[location.contact_id] if location.contact_id is not None else [],
    ) as unit:
        before = audit.snapshot(location, AUDITED_FIELDS)
        for name, value in values.items():
            setattr(location, name, value)
        location.search_text = location.search_document()
        if location.is_default:
            await make_default(location)
        await location.save_changes(*values, "search_text")
        changes = audit.diff(before, audit.snapshot(location, AUDITED_FIELDS))
        await unit.record(AuditAction.UPDATED, location, location.name, changes)
        await point_default_shipping(unit, location)
    return location


async def delete_location(access: Access, gid: str) -> Location:
    """deleteLocation: never the MAIN one, never one with contacts (active or not).

    Activities that pointed at it keep their account and lose only the location (the
    foreign key sets it to NULL).
    """
    viewer = access.user
    problems = Problems()
    location = await access.find(problems, Location, gid, "id")
    if location is None:
        raise Rejected(problems.items)
    if location.kind == LocationKind.MAIN:
        raise Rejected.one(
            ProblemCode.MAIN_LOCATION, "id", "The MAIN location of an account cannot be deleted."
        )
    try:
        # Queued behind the writes that move contacts here (they lock it too).
        async with change(viewer, locations=[location.id]) as unit:
            in_use = await Contact.filter(location_id=location.id).count()
            if in_use:
                raise _in_use(in_use)
            snapshot = audit.snapshot(location, AUDITED_FIELDS)
            # Of two deletions sent at once, the second (queued on the lock) deletes no row.
            if not await Location.filter(id=location.id).delete():
                raise Rejected.one(ProblemCode.NOT_FOUND, "id", "No location has this id.")
            await unit.record(
                AuditAction.DELETED, location, location.name,
                {name: {"from": value, "to": None} for name, value in snapshot.items()},
            )  # fmt: skip
    except IntegrityError:
        # A contact was placed here between the check and the delete (contact.location RESTRICT).
        raise _in_use(await Contact.filter(location_id=location.id).count()) from None
    return location


def _in_use(count: int) -> Rejected:
    noun = "contact" if count == 1 else "contacts"
    return Rejected.one(
        ProblemCode.LOCATION_IN_USE,
        "id",
        f"{count} {noun} (active or not) belong to this location; move them first.",
    )
