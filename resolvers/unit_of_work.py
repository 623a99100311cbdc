"""One unit of work per write: its transaction, its row locks in one order, and the audit event
and outbox row of every change it makes, committed together or not at all (rule 6).

    async with change(access.user, locations=[location.id]) as unit:
        contact = await Contact.create(...)
        await unit.record(AuditAction.CREATED, contact, contact.full_name, changes)

Lock order, the same for every write: accounts, then locations, then contacts, then channels;
ids ascending within a kind. Two writes that touch the same rows then queue in the same order
and never wait on each other in a cycle. Take a unit's locks before its first insert or update:
an insert's foreign-key check takes a key-share lock on the row it points at, and asking that
row's FOR UPDATE afterwards deadlocks with a second writer holding the same key-share lock
(issue 13, item 2). On PostgreSQL each kind is one ``SELECT … ORDER BY id FOR NO KEY UPDATE``:
lock takers queue as with FOR UPDATE, while inserts that only point at the row (a contact that
is not made preferred, an activity) go on. SQLite has no row locks and runs one transaction at a
time, so nothing is sent there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from tortoise import timezone
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import Account, AuditEvent, Channel, Contact, Location, Outbox, User
from models.enums import AuditAction
from models.registry import ENTITIES, Visibility
from resolvers.ids import encode_id

# The one lock order (see the module docstring); a unit asks its locks in this order only.
LOCK_ORDER: tuple[type[Model], ...] = (Account, Location, Contact, Channel)


class LockOrderError(RuntimeError):
    """A write asked a lock out of order: a programming error, never a user's."""


class Unit:
    """The open unit of work ``change`` yields: locks, audit events and outbox rows."""

    def __init__(self, actor: User | None, connection: BaseDBAsyncClient) -> None:
        self.actor = actor
        self.connection = connection
        self._outbox: list[Outbox] = []
        self._open = True
        self._locked_up_to = (-1, 0)  # (kind's place in LOCK_ORDER, highest id locked)
        self._held: set[tuple[type[Model], int]] = set()

    async def lock(
        self,
        *,
        accounts: Iterable[int | None] = (),
        locations: Iterable[int | None] = (),
        contacts: Iterable[int | None] = (),
        channels: Iterable[int | None] = (),
    ) -> None:
        """Lock these rows until commit, in the lock order; a later call may only go on
        where the previous one stopped (a later kind, or higher ids of the same kind). Rows
        the unit holds already are skipped."""
        self._check_open()
        for place, ids in enumerate((accounts, locations, contacts, channels)):
            model = LOCK_ORDER[place]
            wanted = sorted({pk for pk in ids if pk is not None and (model, pk) not in self._held})
            if not wanted:
                continue
            if (place, wanted[0]) <= self._locked_up_to:
                raise LockOrderError(
                    f"{LOCK_ORDER[place].__name__} {wanted[0]} locked after "
                    f"{LOCK_ORDER[self._locked_up_to[0]].__name__} {self._locked_up_to[1]}"
                )
            self._locked_up_to = (place, wanted[-1])
            self._held.update((model, pk) for pk in wanted)
            if self.connection.capabilities.support_for_update:
                rows = model.filter(id__in=wanted).order_by("id")
                await rows.select_for_update(no_key=True).only("id")

    def require_lock(self, model: type[Model], pk: int) -> None:
        """For a rule that needs a row locked: the unit must have taken it."""
        if (model, pk) not in self._held:
            raise LockOrderError(f"{model.__name__} {pk} is not locked by this unit of work")

    async def new_ids(self, model: type[Model], count: int) -> list[int]:
        """``count`` fresh ids of ``model``'s table, ascending, for rows a bulk insert writes
        with their ids (other rows can point at them before they exist). They come from the
        table's own counter, so concurrent writers never get the same id: PostgreSQL's
        sequence (``nextval``); on SQLite the AUTOINCREMENT counter, moved by a write that
        takes the database's write lock until this unit commits. One statement."""
        self._check_open()
        if count <= 0:
            return []
        table = model._meta.db_table
        if self.connection.capabilities.dialect == "postgres":
            rows = await self.connection.execute_query_dict(
                f"SELECT nextval(pg_get_serial_sequence('\"{table}\"', 'id')) AS \"id\" "
                "FROM generate_series(1, $1)",
                [count],
            )
            return sorted(row["id"] for row in rows)
        rows = await self.connection.execute_query_dict(
            "UPDATE sqlite_sequence SET seq = seq + ? WHERE name = ? RETURNING seq", [count, table]
        )
        if not rows:  # a table that never had a row has no counter yet
            rows = await self.connection.execute_query_dict(
                f'INSERT INTO sqlite_sequence (name, seq) SELECT ?, COALESCE(MAX("id"), 0) + ? '
                f'FROM "{table}" RETURNING seq',
                [table, count],
            )
        top = rows[0]["seq"]
        return list(range(top - count + 1, top + 1))

    async def record(
        self,
        action: AuditAction,
        resource: Model,
        name: str,
        changes: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """The audit event of one change to ``resource``, and its outbox row."""
        self._check_open()
        event = self._event(action, resource, name, changes)
        await self._insert_audit([event])
        self._outbox.append(outbox_row(event, await account_of(resource)))
        return event

    async def record_many(
        self, changes: Sequence[tuple[AuditAction, Model, str, dict[str, Any] | None]]
    ) -> list[AuditEvent]:
        """The audit events of many changes ``(action, resource, name, changes)`` and their
        outbox rows, in a few statements whatever their number (batch writes, the import)."""
        self._check_open()
        if not changes:
            return []
        ids = await self.new_ids(AuditEvent, len(changes))
        now = timezone.now()
        events, rows = [], []
        for pk, (action, resource, name, diff) in zip(ids, changes, strict=True):
            event = self._event(action, resource, name, diff, id=pk, occurred_at=now)
            events.append(event)
            rows.append(outbox_row(event, await account_of(resource)))
        await self._insert_audit(events)
        self._outbox.extend(rows)
        return events

    def _event(
        self,
        action: AuditAction,
        resource: Model,
        name: str,
        changes: dict[str, Any] | None,
        **given: Any,
    ) -> AuditEvent:
        actor = self.actor
        event = AuditEvent(
            action=action,
            resource_type=type(resource).__name__,
            resource_id=resource.pk,
            resource_name=name[:255],
            actor_id=actor.id if actor else None,
            actor_name=actor.name if actor else "",
            changes=changes or {},
            **given,
        )
        event.search_text = event.search_document()
        return event

    async def record_loaded(
        self, events: Sequence[tuple[AuditEvent, int | None]], batch_size: int
    ) -> None:
        """A bulk load's audit events, built with their ids and ``(event, account id)``
        paired, and their outbox rows: a few statements for many changes."""
        self._check_open()
        await self._insert_audit([event for event, _ in events], batch_size)
        await self._insert_outbox(
            [outbox_row(event, account_id) for event, account_id in events], batch_size
        )

    async def _insert_audit(self, events: list[AuditEvent], batch_size: int | None = None) -> None:
        if len(events) == 1 and events[0].id is None:
            await events[0].save(using_db=self.connection)
        else:
            await AuditEvent.bulk_create(events, batch_size=batch_size, using_db=self.connection)

    async def _insert_outbox(self, rows: list[Outbox], batch_size: int | None = None) -> None:
        await Outbox.bulk_create(rows, batch_size=batch_size, using_db=self.connection)

    async def _flush(self) -> None:
        if self._outbox:
            await self._insert_outbox(self._outbox)
            self._outbox = []

    def _check_open(self) -> None:
        if not self._open:
            raise RuntimeError("this unit of work has ended: write inside its `async with`")


@asynccontextmanager
async def change(
    actor: User | None,
    *,
    accounts: Iterable[int | None] = (),
    locations: Iterable[int | None] = (),
    contacts: Iterable[int | None] = (),
    channels: Iterable[int | None] = (),
) -> AsyncIterator[Unit]:
    """Open a unit of work for ``actor`` (None: the system) holding these row locks.

    Everything written inside, its audit events and outbox rows commit together; an
    exception anywhere inside rolls all of it back.
    """
    async with in_transaction() as connection:
        unit = Unit(actor, connection)
        try:
            await unit.lock(
                accounts=accounts, locations=locations, contacts=contacts, channels=channels
            )
            yield unit
            await unit._flush()
        finally:
            unit._open = False


async def account_of(resource: Model) -> int | None:
    """The account a change belongs to, for the feed's rule-8 filter, as the registry says
    where its rows hang (None: not an account's, such as users and teams)."""
    entity = ENTITIES.of(type(resource))
    if entity is None:
        return None
    if entity.visibility is Visibility.ACCOUNT:
        return getattr(resource, entity.account_column)
    if entity.visibility is Visibility.PARENT:
        column, parent_name = entity.parent
        parent = await ENTITIES[parent_name].model.get_or_none(id=getattr(resource, column))
        return None if parent is None else await account_of(parent)
    return None


def outbox_row(event: AuditEvent, account_id: int | None) -> Outbox:
    """The change as it will be published: the contract's ``Change`` without its sequence."""
    actor = (
        {"id": encode_id("User", event.actor_id), "name": event.actor_name}
        if event.actor_id is not None
        else None
    )
    return Outbox(
        action=event.action,
        resource_type=event.resource_type,
        resource_id=event.resource_id,
        account_id=account_id,
        actor_id=event.actor_id,
        audit_event_id=event.id,
        payload={
            "action": event.action.value,
            "resourceType": event.resource_type,
            "resourceId": encode_id(event.resource_type, event.resource_id),
            "actor": actor,
            "occurredAt": event.occurred_at.isoformat(),
            "changes": event.changes,
        },
    )
