"""Reading a contacts file: CSV or XLSX, streamed from a spooled file.

``open_table`` sniffs the bytes (never the name alone), reads the header, maps it to the
export's columns (``columns.column_for``) and counts the rows in a first pass, so a file
over the limit is refused before any row is handed out. ``Table.rows()`` then streams the
rows again, one at a time: a 100k-row file never sits in memory as Python objects.

CSV: UTF-8 with or without BOM, else Windows-1252 (the whole file must be valid UTF-8 to
be read as UTF-8); UTF-16 with a BOM (Excel's "Unicode text"); separator ``,``, ``;`` or tab,
the one the header line uses most; quoted cells may hold newlines. XLSX: the first sheet
(openpyxl read-only mode); the header is its first non-empty row.

Cells are trimmed, an empty cell is "not given", and the export's formula quote is taken
off (``columns.unescape_cell``). Row numbers are a spreadsheet's: the header is row 1, and
a record with a newline inside a quoted cell is still one row.
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from resolvers.porting.columns import ColumnMatch, column_for, unescape_cell

MAX_COLUMNS = 300
MAX_CELL_CHARACTERS = 100_000
_SNIFF_BYTES = 64 * 1024
_SEPARATORS = (",", ";", "\t")


class FileRefusal(StrEnum):
    """Why a whole file is refused (docs/import-export.md)."""

    EMPTY_FILE = "EMPTY_FILE"
    UNSUPPORTED_FILE = "UNSUPPORTED_FILE"
    UNREADABLE_FILE = "UNREADABLE_FILE"
    HEADER_ONLY = "HEADER_ONLY"
    NO_KNOWN_COLUMNS = "NO_KNOWN_COLUMNS"
    DUPLICATE_COLUMN = "DUPLICATE_COLUMN"
    TOO_MANY_COLUMNS = "TOO_MANY_COLUMNS"
    TOO_MANY_ROWS = "TOO_MANY_ROWS"


class FileRefused(Exception):
    """The file as a whole cannot be imported; nothing of it is."""

    def __init__(self, code: FileRefusal, message: str) -> None:
        super().__init__(message)
        self.code = str(code)
        self.message = message


# Magic numbers of what people upload by mistake.
_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) or Office file: save it as .xlsx or CSV"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"{\\rtf", "an RTF document"),
)


@dataclass
class Table:
    """A file's header, mapped, and its rows, counted; ``rows()`` streams them."""

    headers: list[str]
    columns: list[ColumnMatch | None]
    unknown: list[str]
    # Headers set aside because a better header of the same column is in the file.
    duplicated: list[str]
    rows_total: int
    format: str  # "csv" or "xlsx"
    encoding: str | None = None
    delimiter: str | None = None
    _source: _Source | None = field(default=None, repr=False)

    def rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        """(row number, cells by column key): given cells only, rows with none skipped."""
        if self._source is None:
            return
        keyed = [(index, match.key) for index, match in enumerate(self.columns) if match]
        try:
            for number, record in self._source.records(skip_header=True):
                cells: dict[str, str] = {}
                for index, key in keyed:
                    if index < len(record):
                        text = record[index].strip()
                        if text:
                            cells[key] = unescape_cell(text)
                if any(cell.strip() for cell in record):
                    yield number, cells
        finally:
            self.close()

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_table(path: Path, file_name: str, *, max_rows: int) -> Table:
    """Sniff, read the header, map it, count the rows; FileRefused says what is wrong."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise FileRefused(FileRefusal.EMPTY_FILE, f"'{file_name}' is empty.")
    source: _Source
    if head.startswith(b"PK\x03\x04"):
        source = _XlsxSource(path, file_name)
    else:
        source = _CsvSource(path, file_name, head)
    try:
        return _table(source, file_name, max_rows)
    except BaseException:
        source.close()
        raise


def _table(source: _Source, file_name: str, max_rows: int) -> Table:
    header_number, headers = source.header()
    headers = [header.strip() for header in headers]
    while headers and not headers[-1]:
        headers.pop()  # the trailing separators a spreadsheet leaves
    if len(headers) > MAX_COLUMNS:
        raise FileRefused(
            FileRefusal.TOO_MANY_COLUMNS,
            f"'{file_name}' has {len(headers)} columns; at most {MAX_COLUMNS}.",
        )
    columns, unknown, duplicated = _map(headers)
    if not any(columns):
        raise FileRefused(
            FileRefusal.NO_KNOWN_COLUMNS,
            f"No column of '{file_name}' is one we know (row {header_number} read as the "
            f"header: {', '.join(repr(h[:40]) for h in headers[:5])}). "
            "The template (/import/template.csv) lists the columns.",
        )
    total = 0
    for _, record in source.records(skip_header=True):
        if any(cell.strip() for cell in record):
            total += 1
            if total > max_rows:
                raise FileRefused(
                    FileRefusal.TOO_MANY_ROWS,
                    f"'{file_name}' has more than {max_rows} rows; the limit is {max_rows} "
                    "rows a file. Split it into smaller files.",
                )
    if total == 0:
        raise FileRefused(FileRefusal.HEADER_ONLY,
                          f"'{file_name}' has a header but no rows.")  # fmt: skip
    return Table(headers, columns, unknown, duplicated, total, source.format,
                 source.encoding, source.delimiter, source)  # fmt: skip


def _map(headers: list[str]) -> tuple[list[ColumnMatch | None], list[str], list[str]]:
    columns: list[ColumnMatch | None] = [column_for(header) if header else None
                                         for header in headers]  # fmt: skip
    unknown: list[str] = []
    for header, match in zip(headers, columns, strict=True):
        if header and match is None and header not in unknown:
            unknown.append(header)
    by_key: dict[str, list[int]] = {}
    for index, match in enumerate(columns):
        if match is not None:
            by_key.setdefault(match.key, []).append(index)
    duplicated: list[str] = []
    for key, indexes in by_key.items():
        if len(indexes) == 1:
            continue
        preferred = [i for i in indexes if not columns[i].fallback]  # type: ignore[union-attr]
        kept = preferred or indexes
        if len(kept) > 1:
            first, second = (headers[i] for i in kept[:2])
            raise FileRefused(
                FileRefusal.DUPLICATE_COLUMN,
                f"Columns '{first}' and '{second}' are both `{key}`; keep one of them.",
            )
        for index in indexes:
            if index not in kept:
                duplicated.append(headers[index])
                columns[index] = None
    return columns, unknown, duplicated


class _Source:
    format: str
    encoding: str | None = None
    delimiter: str | None = None

    def header(self) -> tuple[int, list[str]]:
        raise NotImplementedError

    def records(self, *, skip_header: bool) -> Iterator[tuple[int, list[str]]]:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing held open between passes by default."""


class _CsvSource(_Source):
    format = "csv"

    def __init__(self, path: Path, file_name: str, head: bytes) -> None:
        self.path = path
        self.file_name = file_name
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            self.encoding = "utf-16"
        else:
            for magic, what in _MAGIC:
                if head.startswith(magic):
                    raise FileRefused(FileRefusal.UNSUPPORTED_FILE,
                                      f"'{file_name}' is {what}, not CSV or XLSX.")  # fmt: skip
            if b"\x00" in head:
                raise FileRefused(FileRefusal.UNSUPPORTED_FILE,
                                  f"'{file_name}' is a binary file, not CSV or XLSX.")  # fmt: skip
            self.encoding = "utf-8-sig" if _valid_utf8(path) else "cp1252"
        self.delimiter = self._sniff_delimiter()

    def _open(self) -> IO[str]:
        return open(self.path, encoding=self.encoding, newline="")

    def _sniff_delimiter(self) -> str:
        with self._open() as text:
            try:
                line = text.readline(MAX_CELL_CHARACTERS)
            except UnicodeDecodeError as error:
                raise self._undecodable(error) from None
        counts = dict.fromkeys(_SEPARATORS, 0)
        quoted = False
        for character in line:
            if character == '"':
                quoted = not quoted
            elif not quoted and character in counts:
                counts[character] += 1
        best = max(_SEPARATORS, key=lambda s: counts[s])
        return best if counts[best] else ","

    def _undecodable(self, error: UnicodeDecodeError) -> FileRefused:
        return FileRefused(
            FileRefusal.UNREADABLE_FILE,
            f"'{self.file_name}' is neither UTF-8 nor Windows-1252 text "
            f"(byte 0x{error.object[error.start]:02X}); save it as CSV UTF-8.",
        )

    def header(self) -> tuple[int, list[str]]:
        for number, record in self.records(skip_header=False):
            if any(cell.strip() for cell in record):
                return number, record
        raise FileRefused(FileRefusal.EMPTY_FILE, f"'{self.file_name}' is empty.")

    def records(self, *, skip_header: bool) -> Iterator[tuple[int, list[str]]]:
        with self._open() as text:
            reader = csv.reader(text, delimiter=self.delimiter or ",")
            number = 0
            seen_header = not skip_header
            try:
                for record in reader:
                    number += 1
                    if not seen_header:
                        seen_header = any(cell.strip() for cell in record)
                        continue
                    yield number, record
            except UnicodeDecodeError as error:
                raise self._undecodable(error) from None
            except csv.Error as error:
                raise FileRefused(
                    FileRefusal.UNREADABLE_FILE, f"'{self.file_name}', row {number + 1}: {error}."
                ) from None


def _valid_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


class _XlsxSource(_Source):
    format = "xlsx"

    def __init__(self, path: Path, file_name: str) -> None:
        from openpyxl import load_workbook  # only an XLSX import pays for loading it

        self.file_name = file_name
        try:
            with zipfile.ZipFile(path) as archive:
                if "xl/workbook.xml" not in archive.namelist():
                    raise FileRefused(
                        FileRefusal.UNSUPPORTED_FILE,
                        f"'{file_name}' is a ZIP archive, not an XLSX workbook.",
                    )
            self.workbook = load_workbook(path, read_only=True, data_only=True)
        except FileRefused:
            raise
        except Exception as error:  # a damaged workbook: openpyxl raises many kinds
            raise FileRefused(FileRefusal.UNREADABLE_FILE,
                              f"'{file_name}' is not a readable XLSX workbook "
                              f"({type(error).__name__}).") from None  # fmt: skip
        if not self.workbook.worksheets:
            raise FileRefused(FileRefusal.EMPTY_FILE, f"'{file_name}' has no sheet.")
        self.sheet = self.workbook.worksheets[0]
        self.header_number: int | None = None

    def header(self) -> tuple[int, list[str]]:
        for number, record in self._all():
            if any(cell.strip() for cell in record):
                self.header_number = number
                return number, record
        raise FileRefused(FileRefusal.EMPTY_FILE, f"'{self.file_name}' has an empty first sheet.")

    def records(self, *, skip_header: bool) -> Iterator[tuple[int, list[str]]]:
        for number, record in self._all():
            if skip_header and (self.header_number is None or number <= self.header_number):
                continue
            yield number, record

    def _all(self) -> Iterator[tuple[int, list[str]]]:
        try:
            # Read-only sheets yield an empty row for each missing one: numbers stay right.
            for number, values in enumerate(self.sheet.iter_rows(values_only=True), start=1):
                yield number, [_xlsx_text(value) for value in values]
        except FileRefused:
            raise
        except Exception as error:
            raise FileRefused(FileRefusal.UNREADABLE_FILE,
                              f"'{self.file_name}' is not a readable XLSX workbook "
                              f"({type(error).__name__}).") from None  # fmt: skip

    def close(self) -> None:
        self.workbook.close()


def _xlsx_text(value: Any) -> str:
    """A cell as the CSV of the same sheet would hold it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)
