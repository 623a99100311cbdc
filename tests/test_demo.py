"""Demo data: fills an empty database once, keeps every rule the API keeps, same seed same data.

Each test runs on the suite's database (SQLite, or PostgreSQL when selected), emptied before
and after, so the demo's explicit ids and sequence resets are checked on both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from demo import DemoSummary, fill_demo_data
from models import Account, Activity, AuditEvent, Channel, Contact, Location, Team, User
from models.base import fold
from models.enums import PHONE_CHANNEL_KINDS, ChannelKind, DocumentType, LocationKind, RecordStatus
from resolvers import validation as check
from resolvers.errors import Problems
from tests.conftest import wipe

NOW = datetime(2025, 6, 2, 15, 30, tzinfo=UTC)


@asynccontextmanager
async def fresh_database() -> AsyncIterator[None]:
    """The suite's database, empty inside the block and emptied again after it."""
    await wipe()
    try:
        yield
    finally:
        await wipe()


@pytest.fixture
async def filled(app: Any) -> AsyncIterator[DemoSummary]:
    """A fresh database holding 12 demo accounts; yields what fill_demo_data reported."""
    async with fresh_database():
        yield await fill_demo_data(accounts=12, now=NOW)


async def table_counts() -> dict[str, int]:
    return {
        "accounts": await Account.all().count(),
        "locations": await Location.all().count(),
        "contacts": await Contact.all().count(),
        "channels": await Channel.all().count(),
        "activities": await Activity.all().count(),
        "users": await User.all().count(),
        "teams": await Team.all().count(),
        "audit_events": await AuditEvent.all().count(),
    }


async def test_fill_writes_what_the_summary_says(filled: DemoSummary) -> None:
    assert filled.accounts == 12
    assert filled.contacts >= 12 * 2
    assert filled.activities > filled.contacts
    assert (filled.users, filled.teams) == (8, 3)
    assert await table_counts() == {
        "accounts": filled.accounts,
        "locations": filled.locations,
        "contacts": filled.contacts,
        "channels": filled.channels,
        "activities": filled.activities,
        "users": filled.users,
        "teams": filled.teams,
        "audit_events": filled.audit_events,
    }


async def test_half_the_accounts_are_peruvian_and_half_mexican(filled: DemoSummary) -> None:
    countries = await Location.filter(kind=LocationKind.MAIN).values_list("country", flat=True)
    assert Counter(countries) == {"PE": 6, "MX": 6}


async def test_every_account_has_exactly_one_main_location(filled: DemoSummary) -> None:
    account_ids = await Account.all().values_list("id", flat=True)
    mains = await Location.filter(kind=LocationKind.MAIN).values_list("account_id", flat=True)
    assert Counter(mains) == dict.fromkeys(account_ids, 1)


async def test_rule_1_at_most_one_preferred_contact_per_location(filled: DemoSummary) -> None:
    rows = await Contact.filter(is_preferred=True).values_list("location_id", "status")
    per_location = Counter(location_id for location_id, _ in rows)
    assert per_location and max(per_location.values()) == 1
    assert {status for _, status in rows} == {RecordStatus.ACTIVE}
    sites = await Contact.all().distinct().values_list("location_id", flat=True)
    assert len(per_location) > len(sites) / 2  # most sites do have a preferred contact


async def test_rule_3_one_primary_channel_per_contact_and_kind(filled: DemoSummary) -> None:
    primaries: Counter[tuple[int, str]] = Counter()
    for contact_id, kind, is_primary in await Channel.all().values_list(
        "contact_id", "kind", "is_primary"
    ):
        primaries[(contact_id, kind)] += is_primary
    assert primaries and set(primaries.values()) == {1}


async def test_rule_4_emails_are_unique_without_regard_to_case(filled: DemoSummary) -> None:
    rows = await Channel.filter(kind=ChannelKind.EMAIL).values_list("value", "normalized")
    folded = [value.casefold() for value, _ in rows]
    assert len(folded) > filled.contacts / 2
    assert len(set(folded)) == len(folded)
    assert all(normalized == value.casefold() for value, normalized in rows)


async def test_every_demo_value_passes_the_checks_of_the_write_paths(
    filled: DemoSummary,
) -> None:
    problems = Problems()
    countries = dict(await Location.all().values_list("id", "country"))
    mains = dict(await Location.filter(kind=LocationKind.MAIN).values_list("account_id", "id"))
    kinds: Counter[DocumentType] = Counter()
    for account in await Account.all():
        country = countries[mains[account.id]]
        assert check.tax_id(problems, "taxId", account.tax_id, country) == account.tax_id
        if account.phone:
            assert check.phone(problems, "phone", account.phone, country) is not None
        check.email(problems, "email", account.email)
    for contact in await Contact.all():
        country = countries[contact.location_id]
        kinds[contact.document_type] += 1
        if contact.document_number:
            assert check.document(problems, "documentNumber", contact.document_type,
                                  contact.document_number) == contact.document_number  # fmt: skip
        if contact.home_phone:
            assert check.phone(problems, "homePhone", contact.home_phone, country) is not None
    for channel in await Channel.all():
        if channel.kind in PHONE_CHANNEL_KINDS:
            assert channel.e164 and channel.normalized == channel.e164[1:]
        else:
            assert channel.e164 is None
            assert check.email(problems, "value", channel.value) == channel.value
    assert problems.items == []
    # Every checked kind of document shows up in a dozen accounts' contacts.
    assert {DocumentType.DNI, DocumentType.RUC, DocumentType.CURP} <= kinds.keys()


async def test_inactive_contacts_are_never_preferred_and_their_channels_say_so(
    filled: DemoSummary,
) -> None:
    statuses = dict(await Contact.all().values_list("id", "status"))
    for contact_id, active in await Channel.all().values_list("contact_id", "contact_active"):
        assert active == (statuses[contact_id] == RecordStatus.ACTIVE)


async def test_names_keep_their_accents(filled: DemoSummary) -> None:
    names = await Contact.all().values_list("first_name", "last_name")
    accented = [name for pair in names for name in pair if fold(name) != name.casefold()]
    assert len(accented) > len(names) / 10


async def test_contact_addresses_and_activities_point_at_the_right_rows(
    filled: DemoSummary,
) -> None:
    contacts = {c.id: c for c in await Contact.all()}
    addresses = await Location.filter(contact_id__not_isnull=True)
    assert addresses
    for address in addresses:
        assert address.kind in (LocationKind.HOME, LocationKind.SHIPPING)
        assert address.account_id == contacts[address.contact_id].account_id
    shipping = {a.id: a.contact_id for a in addresses if a.kind == LocationKind.SHIPPING}
    defaults = [c for c in contacts.values() if c.default_shipping_address_id is not None]
    assert len(defaults) == len(shipping)
    assert all(shipping[c.default_shipping_address_id] == c.id for c in defaults)
    for activity in await Activity.all():
        contact = contacts[activity.contact_id]
        assert (activity.account_id, activity.location_id) == (
            contact.account_id,
            contact.location_id,
        )
        assert activity.created_at <= NOW


async def test_search_text_is_filled_from_the_models(filled: DemoSummary) -> None:
    contact = await Contact.all().order_by("id").first()
    assert contact is not None
    channels = await Channel.filter(contact_id=contact.id).order_by("id")
    assert contact.search_text == contact.search_document(channels)
    assert contact.contact_no.lower() in contact.search_text
    account = await Account.get(id=contact.account_id)
    assert account.search_text == account.search_document()


async def test_a_second_fill_writes_nothing(filled: DemoSummary) -> None:
    before = await table_counts()
    assert await fill_demo_data(accounts=12, now=NOW) == DemoSummary()
    assert await table_counts() == before


async def test_new_rows_after_the_fill_get_fresh_ids(filled: DemoSummary) -> None:
    account = await Account.create(name="Bodega Nueva")
    assert account.id == filled.accounts + 1


async def test_same_seed_same_people_whatever_the_clock(app: Any) -> None:
    async def people(seed: int, now: datetime) -> list[tuple[str, str]]:
        async with fresh_database():
            await fill_demo_data(accounts=12, seed=seed, now=now)
            return await Contact.all().order_by("id").values_list("first_name", "last_name")

    first = await people(7, NOW)
    assert first
    assert await people(7, NOW + timedelta(hours=5, seconds=17)) == first
    assert await people(8, NOW) != first
