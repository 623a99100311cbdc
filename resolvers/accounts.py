"""Accounts: lists, and the mutations that create and change them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pypika_tortoise.terms import Term
from tortoise.queryset import QuerySet

from engine.pagination import Ordering, Page, PageArgs, SortKey, paginate
from models import Account
from models.base import tag_keys
from models.enums import AuditAction, CustomFieldEntity, LocationKind
from models.registry import ENTITIES
from resolvers import audit
from resolvers import validation as check
from resolvers.access import Access
from resolvers.custom_fields import (
    Definitions,
    check_values,
    custom_field_condition,
    definitions_of,
    with_custom_field,
)
from resolvers.errors import Problems, Rejected
from resolvers.listing import (
    created_between,
    filter_id,
    searched,
    with_equal,
    with_status,
    with_tag,
)
from resolvers.locations import check_address, new_location, region_of_site
from resolvers.unit_of_work import change

ACCOUNT_ORDER_KEYS = {
    "NAME": (SortKey("name"),),
    "ACCOUNT_NO": (SortKey("id", kind=int),),
    "CREATED_AT": (SortKey("created_at", kind=datetime),),
    "UPDATED_AT": (SortKey("updated_at", kind=datetime),),
}


def accounts_queryset(
    access: Access, filter: Any, search: str | None, custom_field: Term | None = None
) -> QuerySet[Account]:
    query = with_custom_field(with_status(access.rows(Account), filter), custom_field)
    if filter is not None:
        if filter.owner_id is not None:
            query = query.filter(owner_id=filter_id(filter.owner_id, "User"))
        query = with_equal(query, filter, "is_vip", "industry")
        if filter.tag is not None:
            query = with_tag(query, filter.tag)
        query = created_between(query, filter)
    return searched(query, search, number_prefix="acc")


async def list_accounts(
    access: Access,
    filter: Any,
    search: str | None,
    order: Ordering,
    args: PageArgs,
    columns: frozenset[str] | None = None,
) -> Page:
    condition = await custom_field_condition(
        CustomFieldEntity.ACCOUNT, getattr(filter, "custom_field", None)
    )
    query = accounts_queryset(access, filter, search, condition)
    return await paginate(query, order, args, columns)


# ---------------------------------------------------------------- mutations

AUDITED_FIELDS = ENTITIES["Account"].audited


def _check_fields(
    problems: Problems,
    data: Any,
    region: str,
    definitions: Definitions,
    current: Account | None = None,
) -> dict[str, Any]:
    """Validated column values of a create (no ``current``) or update input (on update only
    the fields sent); the tax id and the phone are read by ``region``, the main location's
    country; ``definitions``: the accounts' custom fields."""
    creating = current is None
    values: dict[str, Any] = {}

    def sent(name: str) -> bool:
        return creating or check.given(getattr(data, name))

    if sent("name"):
        values["name"] = check.text(problems, "name", data.name, 200, required=True)
    for name, path, limit in (("legal_name", "legalName", 200), ("industry", "industry", 100)):
        if sent(name):
            values[name] = check.text(problems, path, getattr(data, name), limit)
    if sent("tax_id"):
        values["tax_id"] = check.tax_id(problems, "taxId", data.tax_id, region)
    if sent("website"):
        values["website"] = check.url(problems, "website", data.website)
    if sent("email"):
        values["email"] = check.email(problems, "email", data.email)
    if sent("phone"):
        number = check.phone(problems, "phone", data.phone, region)
        values["phone"] = None if number is None else number.value
    if sent("tags"):
        values["tags"] = check.tags(problems, "tags", data.tags)
        values["tag_keys"] = tag_keys(values["tags"])
    if sent("custom_fields"):
        values["custom_fields"] = check_values(
            problems, "customFields", data.custom_fields, definitions, CustomFieldEntity.ACCOUNT,
            region, None if creating else current.custom_fields,
        )  # fmt: skip
    for name in ("is_vip", "status"):
        raw = getattr(data, name, None)
        if check.given(raw) and raw is not None:
            values[name] = raw
    return values


async def _save_search_text(account: Account) -> None:
    # The account number is in the search text, and the number comes from the id.
    account.search_text = account.search_document()
    await Account.filter(id=account.id).update(search_text=account.search_text)


async def create_account(access: Access, data: Any) -> Account:
    """createAccount: the account and its MAIN location, in one transaction, or nothing."""
    viewer = access.user
    problems = Problems()
    owner_id = (
        viewer.id if data.owner_id is None else await access.owner_id(problems, data.owner_id)
    )
    main = data.main_location
    address = check_address(problems, main, ("mainLocation",), creating=True) if main else {}
    definitions = await definitions_of(CustomFieldEntity.ACCOUNT)
    values = _check_fields(problems, data, check.region_of(address.get("country")), definitions)
    main_name = None
    if main is not None and main.name is not None:
        main_name = check.text(problems, ("mainLocation", "name"), main.name, 200, required=True)
    if problems:
        raise Rejected(problems.items)
    async with change(viewer) as unit:
        account = await Account.create(**values, owner_id=owner_id)
        await _save_search_text(account)
        await unit.record(
            AuditAction.CREATED, account, account.name,
            audit.diff({}, audit.snapshot(account, AUDITED_FIELDS)),
        )  # fmt: skip
        await new_location(
            unit,
            {
                **address,
                "account_id": account.id,
                "kind": LocationKind.MAIN,
                "name": main_name or account.name,
                "is_default": True,
            },
        )
    return account


async def update_account(access: Access, data: Any) -> Account:
    viewer = access.user
    problems = Problems()
    account = await access.find(problems, Account, data.id, "id")
    if account is None:
        raise Rejected(problems.items)
    definitions = {}
    if check.given(data.custom_fields):
        definitions = await definitions_of(CustomFieldEntity.ACCOUNT)
    region = await region_of_site(None, account.id)
    values = _check_fields(problems, data, region, definitions, account)
    if values.get("status", account.status) != account.status:
        access.require_supervisor("deactivate or reactivate an account")
    if check.given(data.owner_id):
        if data.owner_id is None:
            access.require_supervisor("leave an account without an owner")
            values["owner_id"] = None
        else:
            values["owner_id"] = await access.owner_id(problems, data.owner_id)
    if problems:
        raise Rejected(problems.items)
    async with change(viewer) as unit:
        before = audit.snapshot(account, AUDITED_FIELDS)
        for name, value in values.items():
            setattr(account, name, value)
        account.search_text = account.search_document()
        await account.save_changes(*values, "search_text")
        changes = audit.diff(before, audit.snapshot(account, AUDITED_FIELDS))
        await unit.record(AuditAction.UPDATED, account, account.name, changes)
    return account
