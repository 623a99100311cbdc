"""The import's file reader: formats, encodings, separators, header families, and the files
it refuses whole (each with its code and a message that says what is wrong)."""

from __future__ import annotations

import codecs
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from resolvers.porting.columns import CellError
from resolvers.porting.reader import MAX_COLUMNS, FileRefused, open_table

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
SAMPLES = ["vtiger.csv", "vtiger_fields.csv", "hubspot.csv", "sendpulse.csv",
           "spanish_excel.csv", "spanish_excel_cp1252.csv", "spanish.xlsx"]  # fmt: skip


def write(tmp_path: Path, data: bytes | str, name: str = "contacts.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def read(path: Path, max_rows: int = 1000):
    table = open_table(path, path.name, max_rows=max_rows)
    return table, list(table.rows())


def refused(path: Path, max_rows: int = 1000) -> FileRefused:
    with pytest.raises(FileRefused) as raised:
        open_table(path, path.name, max_rows=max_rows)
    return raised.value


@pytest.mark.parametrize("name", SAMPLES)
def test_each_source_systems_export_maps_every_header_with_no_mapping(name):
    table, rows = read(FIXTURES / name)
    assert table.unknown == []
    for header, match in zip(table.headers, table.columns, strict=True):
        assert match is not None or header in table.duplicated, header
    assert rows and table.rows_total == len(rows)
    for number, cells in rows:
        for key, cell in cells.items():
            match = next(m for m in table.columns if m is not None and m.key == key)
            try:
                match.column.parse(cell)
            except CellError as error:  # pragma: no cover - the message says which cell
                pytest.fail(f"{name} row {number} {key}={cell!r}: {error.message}")


def test_vtiger_labels_read_as_the_contacts_fields():
    table, rows = read(FIXTURES / "vtiger.csv")
    assert table.format == "csv" and table.delimiter == ","
    number, jose = rows[0]
    assert number == 2
    assert jose["firstName"] == "José Luis" and jose["lastName"] == "Pérez Quispe"
    assert jose["email"] == "jose.perez@nunez.pe" and jose["email2"] == "jlperez@gmail.com"
    assert jose["accountName"] == "Ferretería Núñez" and jose["leadSource"] == "Cold Call"
    # "Other Street" only stands in for "Mailing Street", which the file has
    assert jose["street"] == "Av. Arequipa 1234"
    assert table.duplicated == ["Other Street", "Other City"]


def test_spanish_excel_csv_in_utf8_with_bom_and_in_windows_1252_read_alike():
    utf8, utf8_rows = read(FIXTURES / "spanish_excel.csv")
    cp1252, cp1252_rows = read(FIXTURES / "spanish_excel_cp1252.csv")
    assert (utf8.encoding, cp1252.encoding) == ("utf-8-sig", "cp1252")
    assert utf8.delimiter == cp1252.delimiter == ";"
    assert utf8.headers == cp1252.headers and utf8.headers[0] == "Saludo"  # no BOM left
    assert utf8_rows == cp1252_rows
    number, zoila = utf8_rows[0]
    assert zoila["jobTitle"] == "Jefa de Investigación" and zoila["lastName"] == "Segundo Ñique"
    assert zoila["leadSource"] == "Llamada en frío" and zoila["birthday"] == "30/09/1985"
    number, oscar = utf8_rows[1]
    assert number == 3
    assert oscar["accountName"] == 'Panadería "La Espiga"'
    assert oscar["street"] == "Calle Real 12\nSegundo piso" and oscar["tags"] == "minorista;norte"


def test_xlsx_first_sheet_with_typed_cells_and_spreadsheet_row_numbers():
    table, rows = read(FIXTURES / "spanish.xlsx")
    assert table.format == "xlsx" and table.rows_total == 2
    (first, rosa), (second, juan) = rows
    assert (first, second) == (2, 4)  # row 3 is blank
    assert rosa["mobile"] == "987654321" and rosa["birthday"] == "1970-01-31"
    assert rosa["isVip"] == "true" and rosa["cf.nivel"] == "oro" and rosa["role"] == "Propietario"
    assert juan["documentNumber"] == "20123456786" and juan["cf.nivel"] == "3"
    assert "tags" not in juan  # an empty cell is not given


def test_sendpulse_full_name():
    table, rows = read(FIXTURES / "sendpulse.csv")
    assert [m.key for m in table.columns] == ["email", "phone", "fullName"]
    assert rows[0][1] == {"email": "rosa.quispe@gmail.com", "phone": "+51 987 000 111",
                          "fullName": "Rosa Quispe Mamani"}  # fmt: skip


@pytest.mark.parametrize(("separator", "name"), [(",", "comma"), (";", "semicolon"),
                                                 ("\t", "tab")])  # fmt: skip
def test_the_separator_is_the_one_the_header_line_uses(tmp_path, separator, name):
    text = separator.join(["firstName", "lastName", '"note, with; both\tkinds"']) + "\r\n"
    text += separator.join(["Ana", "Ruiz", "x"]) + "\r\n"
    table, rows = read(write(tmp_path, text))
    assert table.delimiter == separator
    assert rows == [(2, {"firstName": "Ana", "lastName": "Ruiz"})]
    assert table.unknown == ["note, with; both\tkinds"]


def test_quoted_newlines_keep_the_rows_numbered_as_a_spreadsheet_does(tmp_path):
    text = 'firstName,lastName,street\nAna,Ruiz,"Av. Lima 1\nPiso 2\nOficina 3"\n,,\nLuis,Soto,x\n'
    _, rows = read(write(tmp_path, text))
    assert [number for number, _ in rows] == [2, 4]
    assert rows[0][1]["street"] == "Av. Lima 1\nPiso 2\nOficina 3"


def test_cells_are_trimmed_and_empty_ones_not_given(tmp_path):
    _, rows = read(write(tmp_path, "firstName,lastName,email\n  Ana  , Ruiz ,   \n"))
    assert rows == [(2, {"firstName": "Ana", "lastName": "Ruiz"})]


def test_the_exports_formula_quote_comes_off(tmp_path):
    _, rows = read(write(tmp_path, "firstName,lastName,jobTitle\n'=1+1,'hello,''@x\n"))
    assert rows == [(2, {"firstName": "=1+1", "lastName": "'hello", "jobTitle": "'@x"})]


def test_a_file_that_is_not_utf8_is_windows_1252(tmp_path):
    path = write(tmp_path, "Nombre;Cargo\nJosé;Investigación\n".encode("cp1252"))
    table, rows = read(path)
    assert table.encoding == "cp1252"
    assert rows == [(2, {"firstName": "José", "jobTitle": "Investigación"})]


def test_utf16_with_a_bom_as_excel_saves_unicode_text(tmp_path):
    data = codecs.BOM_UTF16_LE + "Nombre\tCorreo\nÑusta\tnusta@x.pe\n".encode("utf-16-le")
    table, rows = read(write(tmp_path, data, "contactos.txt"))
    assert table.delimiter == "\t"
    assert rows == [(2, {"firstName": "Ñusta", "email": "nusta@x.pe"})]


def test_unknown_columns_are_reported_once_not_per_row(tmp_path):
    text = "firstName,Lifecycle Stage,lastName,Lifecycle Stage\n" + "Ana,Lead,Ruiz,x\n" * 50
    table, rows = read(write(tmp_path, text))
    assert table.unknown == ["Lifecycle Stage"]
    assert len(rows) == 50 and rows[0][1] == {"firstName": "Ana", "lastName": "Ruiz"}


# ------------------------------------------------------------------ files refused whole


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"  \r\n\r\n", b"\r\n"])
def test_an_empty_file_is_refused(tmp_path, data):
    error = refused(write(tmp_path, data))
    assert error.code == "EMPTY_FILE" and "contacts.csv" in error.message


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


@pytest.mark.parametrize(
    ("data", "what"),
    [(PNG, "a PNG image"), (b"%PDF-1.7\n", "a PDF document"), (b"\xff\xd8\xff\xe0JFIF", "JPEG"),
     (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 32, ".xls"),
     (b"firstName,lastName\n\x00\x01\x02\x03", "binary")],
)  # fmt: skip
def test_a_file_that_is_not_csv_or_xlsx_is_refused_by_its_bytes(tmp_path, data, what):
    error = refused(write(tmp_path, data, "foto.csv"))
    assert error.code == "UNSUPPORTED_FILE"
    assert what in error.message and "foto.csv" in error.message


def test_a_zip_that_is_not_a_workbook_is_refused(tmp_path):
    path = tmp_path / "contacts.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hola")
    error = refused(path)
    assert error.code == "UNSUPPORTED_FILE" and "not an XLSX" in error.message


def test_a_damaged_workbook_is_refused(tmp_path):
    error = refused(write(tmp_path, b"PK\x03\x04" + b"\x00" * 100, "contacts.xlsx"))
    assert error.code == "UNREADABLE_FILE"


@pytest.mark.parametrize("data", ["firstName,lastName\n", "firstName,lastName\r\n,\r\n\r\n"])
def test_a_header_only_file_is_refused(tmp_path, data):
    error = refused(write(tmp_path, data))
    assert error.code == "HEADER_ONLY" and "no rows" in error.message


def test_a_header_only_workbook_is_refused(tmp_path):
    workbook = Workbook()
    workbook.active.append(["Nombre", "Apellidos"])
    workbook.save(tmp_path / "contacts.xlsx")
    assert refused(tmp_path / "contacts.xlsx").code == "HEADER_ONLY"


@pytest.mark.parametrize(
    ("header", "first", "second"),
    [("email,firstName,Correo electrónico", "email", "Correo electrónico"),
     ("firstName,First Name", "firstName", "First Name"), ("email,EMAIL", "email", "EMAIL"),
     ("lastName,otherstreet,Other Street", "otherstreet", "Other Street")],
)  # fmt: skip
def test_the_same_column_twice_is_refused_naming_both(tmp_path, header, first, second):
    error = refused(write(tmp_path, header + "\n" + "x," * header.count(",") + "x\n"))
    assert error.code == "DUPLICATE_COLUMN"
    assert f"'{first}'" in error.message and f"'{second}'" in error.message


def test_custom_fields_differing_in_case_are_two_fields(tmp_path):
    _, rows = read(write(tmp_path, "firstName,cf.nivel,cf.Nivel\nAna,a,b\n"))
    assert rows == [(2, {"firstName": "Ana", "cf.nivel": "a", "cf.Nivel": "b"})]


def test_a_file_over_the_row_limit_is_refused_before_any_row_with_the_limit(tmp_path):
    text = "firstName,lastName\n" + "Ana,Ruiz\n" * 4
    error = refused(write(tmp_path, text), max_rows=3)
    assert error.code == "TOO_MANY_ROWS" and "3" in error.message
    table = open_table(write(tmp_path, text), "contacts.csv", max_rows=4)
    assert table.rows_total == 4  # counted before any row is handed out
    table.close()


def test_a_workbook_over_the_row_limit_is_refused(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Nombre", "Apellidos"])
    for index in range(6):
        sheet.append([f"N{index}", "X"])
    workbook.save(tmp_path / "contacts.xlsx")
    error = refused(tmp_path / "contacts.xlsx", max_rows=5)
    assert error.code == "TOO_MANY_ROWS" and "5" in error.message


def test_a_file_with_no_known_column_is_refused(tmp_path):
    error = refused(write(tmp_path, "foo,bar\n1,2\n"))
    assert error.code == "NO_KNOWN_COLUMNS" and "'foo'" in error.message


def test_a_file_with_too_many_columns_is_refused(tmp_path):
    header = ",".join(["firstName"] + [f"x{i}" for i in range(MAX_COLUMNS)])
    error = refused(write(tmp_path, header + "\nAna\n"))
    assert error.code == "TOO_MANY_COLUMNS" and str(MAX_COLUMNS) in error.message


def test_a_cell_over_the_csv_field_limit_is_refused(tmp_path):
    error = refused(write(tmp_path, "firstName,lastName\n" + "x" * 200_000 + ",y\n"))
    assert error.code == "UNREADABLE_FILE" and "row 2" in error.message


def test_rows_stream_without_holding_the_file(tmp_path):
    path = write(tmp_path, "firstName,lastName,email\n" + "Ana,Ruiz,ana@x.pe\n" * 50_000)
    table = open_table(path, path.name, max_rows=100_000)
    tracemalloc.start()
    try:
        count = sum(1 for _ in table.rows())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 50_000
    assert peak < 2_000_000, peak  # a 1.1 MB file held as rows would be far more


def test_text_that_is_neither_utf8_nor_windows_1252_is_refused(tmp_path):
    error = refused(write(tmp_path, b"Nombre,Apellidos\nAna,\x81\x8d\n"))
    assert error.code == "UNREADABLE_FILE" and "0x81" in error.message
