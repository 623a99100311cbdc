"""The columns of a contacts file: export keys, the header families other systems write,
and each column's cell <-> value round trip (formula quoting included)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.enums import ContactRole, DocumentType, LeadSource, RecordStatus
from resolvers.errors import ProblemCode
from resolvers.porting.columns import (
    BY_KEY,
    COLUMNS,
    CUSTOM_FIELD,
    EXPORTED,
    CellError,
    column_for,
    escape_cell,
    fold,
    format_tags,
    parse_boolean,
    parse_date,
    parse_full_name,
    parse_tags,
    unchanged,
    unescape_cell,
)


def key_of(header: str) -> str | None:
    match = column_for(header)
    return None if match is None else match.key


def test_every_export_key_reads_back_as_its_own_column():
    for column in COLUMNS:
        match = column_for(column.key)
        assert match is not None and match.column is column and match.family == "export"
    assert len({column.key for column in COLUMNS}) == len(COLUMNS)


@pytest.mark.parametrize(
    ("header", "key"),
    [("EMAIL", "email"), (" e-mail ", "email"), ("first_name", "firstName"),
     ("First  Name", "firstName"), ("CORREO ELECTRONICO", "email"),
     ("correo_electrónico", "email"), ("Numero de documento", "documentNumber"),
     ("email 2", "email2"), ("E-Mail3", "email3"), ("Postal-Code", "postalCode")],
)  # fmt: skip
def test_headers_match_ignoring_case_accents_spacing_and_punctuation(header, key):
    assert key_of(header) == key


@pytest.mark.parametrize(
    ("header", "key"),
    [("Nombre", "firstName"), ("Apellidos", "lastName"), ("Correo electrónico", "email"),
     ("Móvil", "mobile"), ("Teléfono", "phone"), ("Empresa", "accountName"),
     ("Cargo", "jobTitle"), ("Tipo de documento", "documentType"),
     ("Número de documento", "documentNumber"), ("Fecha de nacimiento", "birthday"),
     ("Saludo", "salutation"), ("Origen del prospecto", "leadSource"), ("¿Es VIP?", "isVip"),
     ("Preferido", "isPreferred"), ("Rol", "role"), ("Etiquetas", "tags"),
     ("Dirección", "street"), ("Distrito", "district"), ("Provincia", "province"),
     ("Departamento", "state"), ("Referencia", "reference"), ("Código postal", "postalCode"),
     ("Colonia", "neighborhood"), ("Tel. Móvil", "mobile"), ("Tel. Particular", "homePhone"),
     ("Correo electrónico principal", "email"), ("Cliente", "accountName"),
     ("Usuario de Portal", "portalUser"), ("No enviar correos", "emailOptOut"),
     ("Origen de Prospecto", "leadSource"), ("Nombre y Apellido", "fullName"),
     ("Dirección de email del contacto", "email")],
)  # fmt: skip
def test_spanish_labels_of_the_contract_and_the_seeds(header, key):
    assert key_of(header) == key


@pytest.mark.parametrize(
    ("header", "key"),
    [("firstname", "firstName"), ("lastname", "lastName"), ("mobile", "mobile"),
     ("homephone", "homePhone"), ("email", "email"), ("account_id", "accountName"),
     ("title", "jobTitle"), ("birthday", "birthday"), ("leadsource", "leadSource"),
     ("mailingstreet", "street"), ("mailingcity", "city"), ("mailingstate", "state"),
     ("mailingzip", "postalCode"), ("mailingcountry", "country"), ("salutationtype", "salutation"),
     ("secondaryemail", "email2"), ("otherphone", "phone2"), ("emailoptout", "emailOptOut"),
     ("portal", "portalUser"), ("Account Name", "accountName"), ("Mailing Street", "street"),
     ("Office Phone", "phone"), ("Lead Source", "leadSource")],
)  # fmt: skip
def test_vtiger_field_names_and_labels(header, key):
    assert key_of(header) == key


@pytest.mark.parametrize(
    ("header", "key"),
    [("First Name", "firstName"), ("Last Name", "lastName"), ("Email", "email"),
     ("Phone Number", "phone"), ("Mobile Phone Number", "mobile"),
     ("Company Name", "accountName"), ("Job Title", "jobTitle"), ("Street Address", "street"),
     ("State/Region", "state"), ("Country/Region", "country"), ("Date of birth", "birthday")],
)  # fmt: skip
def test_hubspot_headers(header, key):
    assert key_of(header) == key


@pytest.mark.parametrize(("header", "key"), [("email", "email"), ("Phone", "phone"),
                                             ("Name", "fullName")])  # fmt: skip
def test_sendpulse_headers(header, key):
    assert key_of(header) == key


def test_other_addresses_of_vtiger_only_stand_in_for_the_mailing_one():
    assert column_for("mailingstreet").fallback is False
    other = column_for("otherstreet")
    assert other.key == "street" and other.fallback is True
    assert column_for("Dirección (Envío)").fallback is True


def test_custom_field_headers_name_their_key():
    match = column_for("cf.nivel")
    assert (match.key, match.custom_field, match.column.target) == (
        "cf.nivel", "nivel", "contact.custom_fields"
    )  # fmt: skip
    assert column_for(" CF. Nivel de interés ").custom_field == "Nivel de interés"
    assert column_for("cf.") is None
    assert column_for("cf." + "x" * 65) is None


def test_a_header_no_family_writes_is_unknown():
    assert column_for("Lifecycle Stage") is None
    assert column_for("") is None


def test_fold_drops_case_accents_spaces_and_punctuation():
    assert fold("¿Es VIP?") == "esvip"
    assert fold("Código Postal (Envío)") == "codigopostalenvio"
    assert fold("Ñandú") == "nandu"


@pytest.mark.parametrize(
    ("key", "cell", "value"),
    [("leadSource", "COLD_CALL", LeadSource.COLD_CALL),
     ("leadSource", "Cold Call", LeadSource.COLD_CALL),
     ("leadSource", "Llamada en frío", LeadSource.COLD_CALL),
     ("leadSource", "llamada en frio", LeadSource.COLD_CALL),
     ("leadSource", "Existing Customer", LeadSource.EXISTING_CUSTOMER),
     ("leadSource", "Feria Comercial", LeadSource.TRADE_SHOW),
     ("leadSource", "Web Site", LeadSource.WEB_SITE),
     ("leadSource", "Word of mouth", LeadSource.WORD_OF_MOUTH),
     ("leadSource", "Offline Sources", LeadSource.OTHER),
     ("role", "Comprador", ContactRole.BUYER), ("role", "propietaria", ContactRole.OWNER),
     ("role", "RECEPTION", ContactRole.RECEPTION), ("role", "Recepción", ContactRole.RECEPTION),
     ("documentType", "Pasaporte", DocumentType.PASSPORT),
     ("documentType", "dni", DocumentType.DNI),
     ("status", "Inactivo", RecordStatus.INACTIVE)],
)  # fmt: skip
def test_enum_cells_as_the_export_spanish_and_source_systems_write_them(key, cell, value):
    assert BY_KEY[key].parse(cell) == value


def test_an_enum_cell_of_no_value_names_the_values():
    with pytest.raises(CellError) as raised:
        BY_KEY["role"].parse("Astronauta")
    assert raised.value.code == ProblemCode.INVALID_FORMAT
    assert "BUYER" in raised.value.message and "Astronauta" in raised.value.message


@pytest.mark.parametrize("cell", ["true", "TRUE", "sí", "Si", "yes", "1", "x", "Verdadero"])
def test_true_cells(cell):
    assert parse_boolean(cell) is True


@pytest.mark.parametrize("cell", ["false", "No", "0", "falso", "N"])
def test_false_cells(cell):
    assert parse_boolean(cell) is False


def test_a_boolean_cell_of_neither_is_refused():
    with pytest.raises(CellError) as raised:
        parse_boolean("quizás")
    assert raised.value.code == ProblemCode.INVALID_FORMAT


@pytest.mark.parametrize(
    ("cell", "day"),
    [("1985-09-30", date(1985, 9, 30)), ("30/09/1985", date(1985, 9, 30)),
     ("1/2/1979", date(1979, 2, 1)), ("30-09-1985", date(1985, 9, 30)),
     ("1980-03-15 00:00:00", date(1980, 3, 15)), ("1980-03-15T00:00:00", date(1980, 3, 15))],
)  # fmt: skip
def test_dates_iso_or_day_first(cell, day):
    assert parse_date(cell) == day


@pytest.mark.parametrize("cell", ["31/02/1990", "1990-13-01", "ayer", "09/30/1985"])
def test_a_date_cell_that_is_no_date_is_refused(cell):
    with pytest.raises(CellError) as raised:
        parse_date(cell)
    assert raised.value.code == ProblemCode.INVALID_DATE


def test_a_cell_over_its_length_is_refused_with_the_limit():
    with pytest.raises(CellError) as raised:
        BY_KEY["firstName"].parse("x" * 101)
    assert raised.value.code == ProblemCode.TOO_LONG and "100" in raised.value.message


def test_contact_and_account_numbers():
    assert BY_KEY["contactNo"].parse("CON-000123") == 123
    assert BY_KEY["contactNo"].parse("con-7") == 7
    assert BY_KEY["contactNo"].format(123) == "CON-000123"
    assert BY_KEY["accountNo"].parse("ACC-000042") == 42
    for cell in ("CON5", "ACC-000001", "123", "CON-0"):
        with pytest.raises(CellError):
            BY_KEY["contactNo"].parse(cell)


def test_tags_split_on_semicolons_or_commas_and_keep_escaped_ones():
    assert parse_tags("mayorista;lima") == ["mayorista", "lima"]
    assert parse_tags("vip, bodega") == ["vip", "bodega"]
    assert parse_tags(format_tags(["a;b", "c,d", "e\\"])) == ["a;b", "c,d", "e\\"]
    assert parse_tags(";;") == []


def test_countries_by_code_or_name():
    country = BY_KEY["country"].parse
    assert (country("pe"), country("Perú"), country("MEXICO")) == ("PE", "PE", "MX")
    with pytest.raises(CellError):
        country("Narnia")


def test_a_full_name_is_split_at_its_first_space():
    assert parse_full_name("José Pérez García") == ("José", "Pérez García")
    assert parse_full_name("  Rosa   Quispe ") == ("Rosa", "Quispe")
    assert parse_full_name("Pedro") == ("Pedro", "Pedro")


@pytest.mark.parametrize(
    "text",
    ["=HYPERLINK(1)", "@SUM", "-2+3+cmd|' /C calc'!A0", "+1+cmd", "-", "+", "\tTab", "\rReturn",
     "'=1", "''=1", "'hello", "'", "''", "+51 987 654 321", "-12.5", "'+51 987 654 321", "x"],
)  # fmt: skip
def test_the_formula_quote_comes_off_on_reading(text):
    assert unescape_cell(escape_cell(text)) == text


def test_what_a_spreadsheet_would_run_is_quoted_and_numbers_are_not():
    assert escape_cell("=1+1") == "'=1+1"
    assert escape_cell("'=1+1") == "''=1+1"
    assert escape_cell("'hello") == "'hello"
    assert escape_cell("-12.5") == "-12.5" and escape_cell("+51 987 654 321") == "+51 987 654 321"
    assert unescape_cell("'hello") == "'hello"  # a quote the export did not add stays


@given(st.text(max_size=30))
def test_quoting_round_trips_any_text(text):
    assert unescape_cell(escape_cell(text)) == text


_TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=20
).map(str.strip).filter(bool)
_VALUES = {
    "contact": _TEXT,
    "tags": st.lists(_TEXT.filter(lambda t: len(t) <= 50), max_size=5, unique=True),
    "boolean": st.booleans(),
    "date": st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
    "number": st.integers(min_value=1, max_value=999_999_999),
}


def _strategy(column):
    parse = column.parse
    if column.key == "tags":
        return _VALUES["tags"]
    if column.key in ("contactNo", "accountNo"):
        return _VALUES["number"]
    if column.key == "birthday":
        return _VALUES["date"]
    if parse is parse_boolean:
        return _VALUES["boolean"]
    if column.key == "country":
        return st.sampled_from(["PE", "MX", "CO", "US"])
    enum = {"role": ContactRole, "documentType": DocumentType, "leadSource": LeadSource,
            "status": RecordStatus}.get(column.key)  # fmt: skip
    if enum is not None:
        return st.sampled_from(list(enum))
    return _TEXT.filter(lambda text: len(text) <= (column.max_length or 255))


@pytest.mark.parametrize(
    "column", [c for c in EXPORTED if c.imported], ids=lambda c: c.key
)
def test_every_column_reads_back_what_the_export_wrote(column):
    @given(_strategy(column))
    def round_trip(value):
        cell = escape_cell(column.format(value)).strip()
        assert column.parse(unescape_cell(cell)) == value

    round_trip()


def test_a_cell_is_unchanged_when_it_holds_the_stored_value_or_its_exported_text():
    assert unchanged(CUSTOM_FIELD, 3, "3") and unchanged(CUSTOM_FIELD, False, "false")
    assert not unchanged(CUSTOM_FIELD, 3, "4")
    assert unchanged(BY_KEY["tags"], ["vip", "lima"], "vip, lima")
    assert unchanged(BY_KEY["isVip"], True, "Sí") and not unchanged(BY_KEY["isVip"], True, "no")
    assert unchanged(BY_KEY["birthday"], date(1985, 9, 30), "30/09/1985")
    assert not unchanged(BY_KEY["birthday"], date(1985, 9, 30), "someday")
