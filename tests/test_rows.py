"""``engine.rows.fetch`` builds exactly the instances the ORM builds, on either database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from tortoise.functions import Coalesce
from tortoise.models import Model

from demo import fill_demo_data
from engine.pagination import NEXT_PAGE, Ordering, PageArgs, SortKey, paginate_per_parent
from engine.rows import (
    Keys,
    fetch,
    fetch_by_value,
    fetch_keyed,
    fetch_sql,
    keyed_sql,
    records_keyed,
)
from models import (
    Account,
    Activity,
    ApiToken,
    AuditEvent,
    Channel,
    Contact,
    Location,
    Team,
    User,
)
from resolvers.activities import NEWEST_FIRST
from resolvers.ids import encode_id
from tests.test_demo import fresh_database

NOW = datetime(2025, 6, 2, 15, 30, tzinfo=UTC)
MODELS = (Account, Location, Contact, Channel, Activity, AuditEvent, User, Team, ApiToken)


@pytest.fixture
async def demo(app: Any) -> AsyncIterator[None]:
    async with fresh_database():
        await fill_demo_data(accounts=6, now=NOW)
        yield


def state(row: Model) -> dict[str, tuple[type, Any, Any]]:
    """Every attribute of an instance with the type of its value (1 == True, 'A' == Enum.A)
    and its time zone (equal instants in other zones are equal datetimes)."""
    return {
        name: (type(value), value, getattr(value, "tzinfo", None))
        for name, value in vars(row).items()
    }


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
async def test_every_model_is_built_as_the_orm_builds_it(demo, model):
    by_orm = await model.all().order_by("id")
    fetched = await fetch(model.all().order_by("id"))
    if model is not ApiToken:  # the demo has no tokens
        assert by_orm, f"the demo has no {model.__name__} rows"
    assert [type(row) for row in fetched] == [model] * len(by_orm)
    assert [state(row) for row in fetched] == [state(row) for row in by_orm]


@pytest.mark.parametrize("model", (Contact, Activity), ids=lambda model: model.__name__)
async def test_rows_of_some_columns_are_the_orms_partial_rows(demo, model):
    """A list reads only the columns its selection needs: the rows are what ``.only()``
    gives (the same attributes, values and ``_partial``), annotations kept."""
    columns = ("id", "created_at", "status")
    query = model.all().annotate(sort_id=Coalesce("id", 0)).order_by("id")
    fetched = await fetch(query, columns)
    by_orm = await model.all().only(*columns).order_by("id")
    assert fetched and all(row._partial for row in fetched)
    assert [row.sort_id for row in fetched] == [row.id for row in by_orm]
    for row in fetched:
        del row.sort_id
    assert [state(row) for row in fetched] == [state(row) for row in by_orm]
    with pytest.raises(AttributeError):
        fetched[0].updated_at  # noqa: B018 (the column was not read)


async def test_the_rows_behave_as_orm_rows(demo):
    [contact] = await fetch(Contact.all().order_by("id").limit(1))
    contact.job_title = "Jefa de compras"
    await contact.save_changes("job_title")
    assert (await Contact.get(id=contact.id)).job_title == "Jefa de compras"


async def test_annotations_are_kept_as_the_orm_keeps_them(demo):
    query = Contact.all().annotate(sort_job_title=Coalesce("job_title", "")).order_by("id")
    by_orm, fetched = await query, await fetch(query)
    assert [state(row) for row in fetched] == [state(row) for row in by_orm]
    assert all(hasattr(row, "sort_job_title") for row in fetched)


async def test_what_it_cannot_build_goes_the_orm_way(demo):
    partial = await fetch(Contact.all().only("id", "first_name").order_by("id"))
    assert partial[0]._partial and partial[0].first_name
    first = await fetch(Contact.all().order_by("id").first())
    assert isinstance(first, Contact)


async def test_partial_records_are_built_as_partial_rows(demo):
    query = Contact.all().only("id", "first_name", "status").order_by("id")
    query._choose_db_if_not_chosen()
    query._make_query()
    sql, params = query.query.get_parameterized_sql()
    fetched = await fetch_sql(query._db, Contact, sql, params, extras=False)
    assert [state(row) for row in fetched] == [state(row) for row in await query]


async def test_pages_per_parent_keep_their_order_and_drop_their_helper_columns(demo):
    contacts = [row.id for row in await Contact.all().order_by("id").limit(8)]
    pages = await paginate_per_parent(
        Activity, Activity.all, "contact_id", contacts, NEWEST_FIRST, PageArgs(first=3)
    )
    for contact_id in contacts:
        expected = await Activity.filter(contact_id=contact_id).order_by("-created_at", "-id")
        rows, rest = pages[contact_id][:3], pages[contact_id][3:]
        assert [state(row) for row in rows] == [state(row) for row in expected[:3]]
        assert rest == ([NEXT_PAGE] if len(expected) > 3 else [])
    assert any(len(page) == 4 for page in pages.values()), "no contact has a next page"


async def test_a_nullable_sort_key_pages_per_parent_without_its_helper_column(demo):
    by_city = Ordering.of(SortKey("city", nullable=True), SortKey("name"))
    accounts = [row.id for row in await Account.all().order_by("id")]
    pages = await paginate_per_parent(
        Location, Location.all, "account_id", accounts, by_city, PageArgs(first=50)
    )
    for account_id in accounts:
        rows = await Location.filter(account_id=account_id).order_by("id")
        expected = sorted(rows, key=lambda row: (row.city or "", row.name, row.id))
        assert [state(row) for row in pages[account_id]] == [state(row) for row in expected]


async def test_an_empty_result_is_an_empty_list(demo):
    assert await fetch(Contact.filter(id=-1)) == []
    assert await fetch_sql(
        Contact.all()._choose_db(), Contact, 'SELECT * FROM "contact" WHERE 1 = 0', [],
        extras=True,
    ) == []  # fmt: skip


async def test_records_of_a_few_columns_are_the_drivers_values(demo):
    contact_ids = sorted({row.contact_id for row in await Channel.filter(is_primary=True)})

    def query(keys):
        primary = Channel.filter(contact_id__in=keys, is_primary=True).order_by("id")
        return primary.values_list("contact_id", "kind", "value")

    records = await records_keyed(None, Channel, contact_ids, query)
    expected = await query(contact_ids)
    assert expected, "the demo has no primary channels"
    assert [tuple(record) for record in records] == [
        (contact_id, kind.value, value) for contact_id, kind, value in expected
    ]


def sql_of(queryset) -> tuple[str, list]:
    queryset._choose_db_if_not_chosen()
    queryset._make_query()
    return queryset.query.get_parameterized_sql()


async def test_keys_are_placed_as_pypika_places_a_list(demo):
    ids = [row.id for row in await Contact.all().order_by("id").limit(5)]

    def query(keys):  # parameters before and after the keys: PostgreSQL numbers them
        return Contact.filter(status="ACTIVE", id__in=keys, is_vip=False).order_by("id")

    assert sql_of(query(Keys(ids))) == sql_of(query(ids))
    assert [row.id for row in await fetch(query(Keys(ids)))] == [row.id for row in await query(ids)]
    assert await fetch(Contact.filter(id__in=Keys([]))) == []
    assert sql_of(Contact.filter(id__in=Keys([]))) == sql_of(Contact.filter(id__in=[]))


async def test_a_keyed_statement_is_built_once_per_shape_and_number_of_keys(demo):
    ids = [row.id for row in await Contact.all().order_by("id").limit(11)]
    built = []

    def query(keys):  # parameters before and after the keys: PostgreSQL numbers them
        built.append(keys)
        return Contact.filter(status="ACTIVE", id__in=keys, is_vip=False).order_by("id")

    shape = ("test", "active non-VIP contacts")
    _, first_sql, first_params = keyed_sql(shape, Contact, ids[:5], query)
    _, sql, params = keyed_sql(shape, Contact, ids[5:10], query)
    assert len(built) == 1, "the second batch of five keys built its query again"
    assert (sql, params) == (first_sql, params) and params != first_params
    assert (sql, params) == sql_of(query(ids[5:10]))
    keyed_sql(shape, Contact, ids[:6], query)
    keyed_sql(None, Contact, ids[:5], query)
    assert len(built) == 4, "six keys, or no shape, must build their own statement"
    fetched = await fetch_keyed(shape, Contact, ids[5:10], query)
    assert [state(row) for row in fetched] == [state(row) for row in await query(ids[5:10])]


async def test_a_statement_with_one_value_is_built_once_per_shape(demo):
    users = await User.all().order_by("id").limit(2)
    for index, user in enumerate(users):
        await ApiToken.create(user=user, name=f"t{index}", secret_hash=f"hash-{index}")
    built = []

    def query(secret_hash):
        built.append(secret_hash)
        return ApiToken.filter(secret_hash=secret_hash).select_related("user").limit(1)

    shape = ("test", "token by hash")
    for index, user in enumerate(users):
        [token] = await fetch_by_value(shape, ApiToken, f"hash-{index}", query)
        [by_orm] = await query(f"hash-{index}")
        assert state(token) == state(by_orm)
        assert state(token.user) == state(by_orm.user) and token.user.id == user.id
    assert await fetch_by_value(shape, ApiToken, "no such hash", query) == []
    assert len(built) == 1 + 2, "the statement was built again for another value"


async def test_row_types_read_their_fields_from_the_row_when_asked(demo):
    from engine.types import node_types

    for model in (Account, Location, Contact, Channel, Activity, AuditEvent, User, Team):
        row = await model.all().order_by("id").first()
        graph_type = node_types()[model.__name__]
        obj = graph_type.from_row(row)
        definition = graph_type.__strawberry_definition__
        fields = [f.python_name for f in definition.fields if f.base_resolver is None]
        assert set(vars(obj)) == {"id", "row"}, f"{model.__name__} copied its fields"
        for name in fields:
            expected = encode_id(model.__name__, row.pk) if name == "id" else getattr(row, name)
            assert getattr(obj, name) == expected, f"{model.__name__}.{name}"
        with pytest.raises(AttributeError):
            obj.no_such_field  # noqa: B018
