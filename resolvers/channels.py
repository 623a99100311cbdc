"""Channels (every way to reach a contact): rule 3, their canonical form, and the mutations.

A contact's own writes (``resolvers.contacts``) write its channels through the rules here;
the channel mutations check rule 4 and refresh the contact's search text through the
contact's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from models import Channel, Contact
from models.enums import PHONE_CHANNEL_KINDS, AuditAction, ChannelKind, RecordStatus
from resolvers import contacts
from resolvers import validation as check
from resolvers.access import Access
from resolvers.errors import ProblemCode, Problems, Rejected
from resolvers.locations import region_of_site
from resolvers.unit_of_work import Unit, change

MAX_CHANNELS = 30


# ---------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class ChannelValue:
    """A checked channel value: as typed, what uniqueness compares, and a phone's E.164."""

    value: str
    normalized: str
    e164: str | None = None


def check_channel_value(
    problems: Problems, path: tuple[str, ...], kind: ChannelKind, value: Any, region: str
) -> ChannelValue | None:
    """A channel's value of ``kind``: an email's syntax, a phone-like number valid in
    ``region`` (``resolvers.locations.region_of_site``), other kinds as text."""
    if kind == ChannelKind.EMAIL:
        checked = check.email_and_key(problems, path, value, required=True)
        return None if checked is None else ChannelValue(*checked)
    if kind in PHONE_CHANNEL_KINDS:
        number = check.phone(problems, path, value, region, required=True)
        return None if number is None else ChannelValue(
            number.value, number.e164.removeprefix("+"), number.e164
        )  # fmt: skip
    cleaned = check.text(problems, path, value, 254, required=True)
    return None if cleaned is None else ChannelValue(cleaned, cleaned.casefold())


def new_channel(
    contact: Contact, kind: ChannelKind, value: ChannelValue, label: str | None, primary: bool
) -> Channel:
    """A channel row of ``contact``, not yet saved: every write path builds its rows here."""
    return Channel(
        contact_id=contact.id,
        kind=kind,
        value=value.value,
        normalized=value.normalized,
        e164=value.e164,
        label=label,
        is_primary=primary,
        contact_active=contact.status == RecordStatus.ACTIVE,
    )


async def add_channel_row(
    contact: Contact, kind: ChannelKind, value: ChannelValue, label: str | None, primary: bool
) -> Channel:
    """Rule 3: the first channel of a kind is primary; a new primary demotes the old one."""
    has_primary = await Channel.filter(contact_id=contact.id, kind=kind, is_primary=True).exists()
    if primary and has_primary:
        await Channel.filter(contact_id=contact.id, kind=kind, is_primary=True).update(
            is_primary=False
        )
    channel = new_channel(contact, kind, value, label, primary or not has_primary)
    await channel.save()
    return channel


def channel_set(
    contact: Contact, wanted: Sequence[tuple[ChannelKind, ChannelValue, str | None, bool]]
) -> list[Channel]:
    """Rule 3 for a contact's whole new set of channels ``(kind, value, label, primary)``,
    unsaved, in the order to insert them: of each kind the last one asked primary is the
    primary, else the first; primaries first (what one ``add_channel_row`` after another
    would leave)."""
    chosen: dict[ChannelKind, int] = {}
    for index, (kind, _, _, primary) in enumerate(wanted):
        if primary:
            chosen[kind] = index
    for index, (kind, _, _, _) in enumerate(wanted):
        chosen.setdefault(kind, index)
    order = sorted(range(len(wanted)), key=lambda index: not wanted[index][3])
    return [
        new_channel(contact, kind, value, label, chosen[kind] == index)
        for index in order
        for kind, value, label, _ in [wanted[index]]
    ]


async def promote_oldest(contact_id: int, kind: ChannelKind) -> None:
    """Rule 3: when the primary goes, the oldest remaining channel of its kind takes over."""
    await promote_oldest_of([(contact_id, kind)])


async def promote_oldest_of(pairs: Sequence[tuple[int, ChannelKind]]) -> None:
    """``promote_oldest`` for many ``(contact id, kind)`` pairs: two statements at most."""
    if not pairs:
        return
    wanted = set(pairs)
    rows = await Channel.filter(
        contact_id__in=sorted({contact_id for contact_id, _ in wanted}),
        kind__in=sorted({kind for _, kind in wanted}),
    ).order_by("created_at", "id")
    oldest: dict[tuple[int, ChannelKind], int] = {}
    has_primary: set[tuple[int, ChannelKind]] = set()
    for row in rows:
        key = (row.contact_id, row.kind)
        if key not in wanted:
            continue
        oldest.setdefault(key, row.id)
        if row.is_primary:
            has_primary.add(key)
    promoted = [pk for key, pk in oldest.items() if key not in has_primary]
    if promoted:
        await Channel.filter(id__in=promoted).update(is_primary=True)


# ---------------------------------------------------------------- mutations


async def _record_channel_change(unit: Unit, contact: Contact, changes: dict) -> None:
    await contacts.refresh_search(contact)
    await unit.record(AuditAction.UPDATED, contact, contact.full_name, changes)


async def add_channel(access: Access, data: Any) -> tuple[Channel, Contact]:
    problems = Problems()
    contact = await access.find(problems, Contact, data.contact_id, "contactId")
    region = (
        await region_of_site(contact.location_id, contact.account_id)
        if contact is not None
        else check.region_of()
    )
    value = check_channel_value(problems, ("value",), data.kind, data.value, region)
    label = check.text(problems, "label", data.label, 60)
    if problems:
        raise Rejected(problems.items)
    if contact.status == RecordStatus.ACTIVE and data.kind == ChannelKind.EMAIL:
        emails = {value.normalized: ("value",)}
        duplicates = await contacts.duplicate_problems(access, emails, (None, None), None)
        if duplicates:
            raise Rejected(duplicates)
    if await Channel.filter(contact_id=contact.id).count() >= MAX_CHANNELS:
        raise Rejected.one(ProblemCode.OUT_OF_RANGE, "contactId", f"At most {MAX_CHANNELS}.")

    async def write() -> tuple[Channel, Contact]:
        async with change(access.user, contacts=[contact.id]) as unit:
            channel = await add_channel_row(contact, data.kind, value, label, bool(data.is_primary))
            await _record_channel_change(
                unit, contact,
                {"channels": {"from": None, "to": f"{data.kind.value} {value.value}"}},
            )  # fmt: skip
            return channel, contact

    return await contacts.guard_unique(write)


async def update_channel(access: Access, data: Any) -> tuple[Channel, Contact]:
    problems = Problems()
    channel = await access.find(problems, Channel, data.id, "id")
    if channel is None:
        raise Rejected(problems.items)
    contact = await Contact.get(id=channel.contact_id)
    value = ChannelValue(channel.value, channel.normalized, channel.e164)
    if check.given(data.value):
        region = await region_of_site(contact.location_id, contact.account_id)
        value = check_channel_value(problems, ("value",), channel.kind, data.value, region)
    label = check.text(problems, "label", data.label, 60) if check.given(data.label) else None
    if problems:
        raise Rejected(problems.items)
    if channel.kind == ChannelKind.EMAIL and channel.contact_active:
        emails = {value.normalized: ("value",)}
        duplicates = await contacts.duplicate_problems(access, emails, (None, None), contact.id)
        if duplicates:
            raise Rejected(duplicates)

    async def write() -> tuple[Channel, Contact]:
        # The contact first, as every channel write: refresh_search updates it after the channel.
        async with change(access.user, contacts=[contact.id]) as unit:
            before = channel.value
            channel.value, channel.normalized, channel.e164 = (
                value.value, value.normalized, value.e164
            )  # fmt: skip
            if check.given(data.label):
                channel.label = label
            await channel.save()
            await _record_channel_change(
                unit, contact, {"channels": {"from": before, "to": channel.value}}
            )
            return channel, contact

    return await contacts.guard_unique(write)


async def remove_channel(access: Access, gid: str) -> tuple[Channel, Contact]:
    problems = Problems()
    channel = await access.find(problems, Channel, gid, "id")
    if channel is None:
        raise Rejected(problems.items)
    contact = await Contact.get(id=channel.contact_id)
    async with change(access.user, contacts=[contact.id]) as unit:
        # Read again under the contact's lock, and count what the delete removed: of two
        # removals sent at once, the one that waited for the lock finds the channel gone.
        channel = await Channel.get_or_none(id=channel.id)
        if channel is None or not await Channel.filter(id=channel.id).delete():
            raise Rejected.one(ProblemCode.NOT_FOUND, "id", "No channel has this id.")
        await promote_oldest(contact.id, channel.kind)
        await _record_channel_change(
            unit, contact, {"channels": {"from": f"{channel.kind.value} {channel.value}",
                                           "to": None}}
        )  # fmt: skip
    return channel, contact


async def set_primary_channel(access: Access, gid: str) -> tuple[Channel, Contact]:
    viewer = access.user
    problems = Problems()
    channel = await access.find(problems, Channel, gid, "id")
    if channel is None:
        raise Rejected(problems.items)
    contact = await Contact.get(id=channel.contact_id)
    async with change(viewer, contacts=[contact.id]) as unit:
        await (
            Channel.filter(contact_id=contact.id, kind=channel.kind, is_primary=True)
            .exclude(id=channel.id)
            .update(is_primary=False)
        )
        await Channel.filter(id=channel.id).update(is_primary=True)
        channel.is_primary = True
        await unit.record(
            AuditAction.UPDATED, contact, contact.full_name,
            {"primary" + channel.kind.value.title(): {"from": None, "to": channel.value}},
        )  # fmt: skip
    return channel, contact
