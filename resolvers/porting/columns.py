"""The columns of a contacts file: what the export writes, what the import reads.

``COLUMNS`` is the export's header, in order; each column says which contact, channel,
address, account, location or owner field it holds, how a cell becomes a value (``parse``)
and a value a cell (``format``), and its length limit. ``column_for`` recognises a header as
written by this export, in Spanish, or by vtiger, HubSpot and SendPulse: compared ignoring
case, accents, spacing and punctuation (``fold``). ``cf.<key>`` is the custom field
``<key>``. docs/import-export.md lists every column and header.

Round trip: ``column.parse(unescape_cell(escape_cell(column.format(value))))`` gives the
value back, for every column (``tests/test_porting_columns.py``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum, StrEnum
from typing import Any

from models.enums import (
    ChannelKind,
    ContactRole,
    CustomFieldType,
    DocumentType,
    LeadSource,
    RecordStatus,
)
from resolvers.errors import ProblemCode
from resolvers.validation import MAX_TAG_LENGTH, MAX_TAGS, is_phone_number

CUSTOM_FIELD_PREFIX = "cf."
MAX_CUSTOM_FIELD_KEY = 64
# Channels beyond these many of a kind are not exported (docs/import-export.md).
CHANNEL_COLUMNS: dict[ChannelKind, tuple[str, int]] = {
    ChannelKind.EMAIL: ("email", 3),
    ChannelKind.PHONE: ("phone", 3),
    ChannelKind.MOBILE: ("mobile", 3),
    ChannelKind.WHATSAPP: ("whatsapp", 2),
    ChannelKind.TELEGRAM: ("telegram", 1),
    ChannelKind.SMS: ("sms", 1),
    ChannelKind.CHAT: ("chat", 1),
    ChannelKind.OTHER: ("otherChannel", 1),
}
CHANNEL_MAX_LENGTH = 254


class CellError(ValueError):
    """A cell that is not a value of its column: the import's row error."""

    def __init__(self, code: ProblemCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------- folding and escaping


def fold(text: str) -> str:
    """``"Correo electrónico"`` -> ``"correoelectronico"``: no case, accents, spaces or
    punctuation. Headers and enum labels are compared folded."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c)).casefold()


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")


def _runs_as_formula(text: str) -> bool:
    # A spreadsheet runs a cell starting with = + - @ as a formula (OWASP CSV injection),
    # unless it is wholly a number (-12.5) or a phone number (+51 …).
    return text[:1] in _FORMULA_STARTS and not (
        text[:1] in "+-" and (_NUMBER.match(text) is not None or is_phone_number(text))
    )


def _needs_quote(text: str) -> bool:
    # Quoted: what a spreadsheet would run, and what starts with quotes before such text
    # (so that taking one quote off, on reading, gives the value back).
    return _runs_as_formula(text.lstrip("'"))


_QUOTE_STARTS = frozenset("'=+-@\t\r")


def escape_cell(text: str) -> str:
    """The cell the export writes for ``text``: a leading ``'`` when a spreadsheet would run
    it as a formula, or when it already starts with ``'`` before such text."""
    if not text or text[0] not in _QUOTE_STARTS:  # most cells: one look at one character
        return text
    return "'" + text if _needs_quote(text) else text


def unescape_cell(text: str) -> str:
    """What ``escape_cell`` wrote, back: one leading ``'`` off when what follows needs it.
    ``'hello`` stays ``'hello``; ``'=1+1`` is ``=1+1``; ``''=1`` is ``'=1``."""
    return text[1:] if text[:1] == "'" and _needs_quote(text[1:]) else text


# ---------------------------------------------------------------- cell <-> value


def format_value(value: Any) -> str:
    """A stored value as the export writes it (before formula quoting)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):  # a MULTI_SELECT custom field: as tags are written
        return format_tags([str(item) for item in value])
    return str(value)


def _text(max_length: int) -> Callable[[str], str]:
    def parse(cell: str) -> str:
        if len(cell) > max_length:
            raise CellError(ProblemCode.TOO_LONG,
                            f"At most {max_length} characters (got {len(cell)}).")  # fmt: skip
        return cell

    return parse


_TRUE = frozenset(fold(t) for t in ("true", "yes", "y", "sí", "si", "s", "1", "x", "verdadero"))
_FALSE = frozenset(fold(t) for t in ("false", "no", "n", "0", "falso"))


def parse_boolean(cell: str) -> bool:
    folded = fold(cell)
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise CellError(ProblemCode.INVALID_FORMAT,
                    f"'{cell[:40]}' is not true or false (also: sí/no, yes/no, 1/0).")  # fmt: skip


_DAY_FIRST = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


def parse_date(cell: str) -> date:
    """ISO (``2001-09-30``, also with a time, as vtiger writes) or day first
    (``30/09/2001``, as a Spanish spreadsheet writes)."""
    text = cell.strip()
    found = _DAY_FIRST.match(text)
    try:
        if found is not None:
            day, month, year = (int(part) for part in found.groups())
            return date(year, month, day)
        if len(text) > 10 and text[10] in "T ":
            return datetime.fromisoformat(text).date()
        return date.fromisoformat(text)
    except ValueError:
        pass
    raise CellError(ProblemCode.INVALID_DATE,
                    f"'{cell[:40]}' is not a date; write 2001-09-30 or 30/09/2001.")  # fmt: skip


def _enum(enum: type[StrEnum], labels: dict[str, Iterable[str]]) -> Callable[[str], StrEnum]:
    """An enum cell: its value (``COLD_CALL``), folded (``Cold Call``), or a label (``Llamada
    en frío``). A label for a value the enum lacks is left out."""
    table: dict[str, StrEnum] = {fold(member.value): member for member in enum}
    for value, names in labels.items():
        if value in enum.__members__:
            for name in names:
                table.setdefault(fold(name), enum(value))

    def parse(cell: str) -> StrEnum:
        found = table.get(fold(cell))
        if found is None:
            raise CellError(ProblemCode.INVALID_FORMAT,
                            f"'{cell[:40]}' is not one of "
                            f"{', '.join(member.value for member in enum)}.")  # fmt: skip
        return found

    return parse


_TAG_SEPARATORS = ";,"


def format_tags(tags: list[str] | None) -> str:
    """``["vip", "a;b"]`` -> ``vip;a\\;b``: ``;`` between tags; ``;``, ``,`` and ``\\``
    inside a tag escaped with ``\\``."""
    return ";".join(re.sub(r"([;,\\])", r"\\\1", tag) for tag in tags or [])


def parse_tags(cell: str) -> list[str]:
    """Tags separated by ``;`` or ``,`` (``\\`` escapes the next character); blanks dropped."""
    tags: list[str] = []
    current: list[str] = []
    characters = iter(cell)
    for character in characters:
        if character == "\\":
            current.append(next(characters, ""))
        elif character in _TAG_SEPARATORS:
            tags.append("".join(current).strip())
            current = []
        else:
            current.append(character)
    tags.append("".join(current).strip())
    tags = [tag for tag in tags if tag]
    if len(tags) > MAX_TAGS:
        raise CellError(ProblemCode.OUT_OF_RANGE, f"At most {MAX_TAGS} tags (got {len(tags)}).")
    for tag in tags:
        if len(tag) > MAX_TAG_LENGTH:
            raise CellError(ProblemCode.TOO_LONG,
                            f"Tag '{tag[:40]}…' is over {MAX_TAG_LENGTH} characters.")  # fmt: skip
    return tags


# Country names as Spanish and English files write them, for the region's countries.
_COUNTRY_NAMES: dict[str, tuple[str, ...]] = {
    "AR": ("Argentina",),
    "BO": ("Bolivia",),
    "BR": ("Brasil", "Brazil"),
    "CL": ("Chile",),
    "CO": ("Colombia",),
    "CR": ("Costa Rica",),
    "EC": ("Ecuador",),
    "ES": ("España", "Spain"),
    "GT": ("Guatemala",),
    "MX": ("México", "Mejico", "Mexico"),
    "PA": ("Panamá", "Panama"),
    "PE": ("Perú", "Peru"),
    "PY": ("Paraguay",),
    "US": ("Estados Unidos", "United States", "USA", "EE. UU."),
    "UY": ("Uruguay",),
    "VE": ("Venezuela",),
}
_COUNTRIES = {fold(name): code for code, names in _COUNTRY_NAMES.items() for name in names}


def parse_country(cell: str) -> str:
    """An ISO 3166-1 alpha-2 code (``pe`` -> ``PE``), or the region's country names."""
    if len(cell) == 2 and cell.isascii() and cell.isalpha():
        return cell.upper()
    found = _COUNTRIES.get(fold(cell))
    if found is None:
        raise CellError(ProblemCode.INVALID_FORMAT,
                        f"'{cell[:40]}' is not a country code (ISO 3166-1, e.g. PE).")  # fmt: skip
    return found


def _number(prefix: str) -> Callable[[str], int]:
    pattern = re.compile(rf"^{prefix}-0*(\d{{1,10}})$", re.IGNORECASE)

    def parse(cell: str) -> int:
        """``CON-000123`` -> 123 (the id behind the generated number)."""
        found = pattern.match(cell.strip())
        if found is None or int(found.group(1)) == 0:
            raise CellError(ProblemCode.INVALID_FORMAT,
                            f"'{cell[:40]}' is not a number like {prefix}-000123.")  # fmt: skip
        return int(found.group(1))

    return parse


def _numbered(prefix: str) -> Callable[[Any], str]:
    def format_number(value: Any) -> str:
        if value is None or value == "":
            return ""
        return value if isinstance(value, str) else f"{prefix}-{value:06d}"

    return format_number


def parse_full_name(cell: str) -> tuple[str, str]:
    """``José Pérez García`` -> ``("José", "Pérez García")``: the first word, then the rest
    (Spanish names carry two surnames). One word: first and last name alike."""
    first, _, last = " ".join(cell.split()).partition(" ")
    return first, last or first


# ---------------------------------------------------------------- the columns


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the export and the import.

    ``target`` is ``<where>.<field>``: ``contact.<model field>``, ``channel.<ChannelKind>``
    (``index`` 0 is the primary channel of that kind, 1 the second, …), ``address.<Location
    field>`` (the contact's own ``HOME`` address), ``account.account_no``, ``account.name``,
    ``location.name`` (a location of the contact's account), ``owner.email``,
    ``contact.custom_fields`` (``cf.<key>``) and ``contact.full_name`` (import only:
    ``parse`` gives ``(first_name, last_name)``).
    """

    key: str
    target: str
    parse: Callable[[str], Any]
    max_length: int | None
    allowlist: str  # the token field allowlist's coordinate that lets a caller export it
    format: Callable[[Any], str] = format_value
    index: int = 0
    exported: bool = True
    imported: bool = True  # False: written by export, left alone by import (createdAt)

    @property
    def where(self) -> str:
        return self.target.partition(".")[0]

    @property
    def field(self) -> str:
        return self.target.partition(".")[2]

    @property
    def channel_kind(self) -> ChannelKind | None:
        return ChannelKind(self.field) if self.where == "channel" else None


def _column(
    key: str,
    target: str,
    max_length: int | None,
    parse: Callable[[str], Any] | None = None,
    allowlist: str | None = None,
    **options: Any,
) -> Column:
    coordinate = allowlist or "Contact." + key
    return Column(key, target, parse or _text(max_length or 255), max_length, coordinate, **options)


def _channel_columns(kind: ChannelKind) -> list[Column]:
    stem, count = CHANNEL_COLUMNS[kind]
    primary = "Contact." + stem if kind in _PRIMARY_FIELDS else "Contact.channels"
    return [
        _column(
            stem if index == 0 else f"{stem}{index + 1}",
            f"channel.{kind.value}",
            CHANNEL_MAX_LENGTH,
            index=index,
            allowlist=primary if index == 0 else "Contact.channels",
        )
        for index in range(count)
    ]


_PRIMARY_FIELDS = {ChannelKind.EMAIL, ChannelKind.PHONE, ChannelKind.MOBILE}

ROLE_LABELS = {
    "BUYER": ("Comprador", "Compradora"),
    "OWNER": ("Propietario", "Propietaria", "Dueño", "Dueña"),
    "MANAGER": ("Gerente", "Encargado", "Encargada"),
    "ACCOUNTING": ("Contabilidad", "Contador", "Contadora"),
    "RECEPTION": ("Recepción", "Recepcionista"),
    "OTHER": ("Otro", "Otra", "Otros"),
}
# CE comes first: where the enum has it, the carné de extranjería is CE, else FOREIGN_ID.
DOCUMENT_TYPES = {
    "CE": ("Carné de extranjería", "Carnet de extranjería"),
    "PASSPORT": ("Pasaporte",),
    "FOREIGN_ID": ("Carné de extranjería", "Carnet de extranjería", "Foreign ID"),
    "OTHER": ("Otro", "Otros"),
}
# vtiger's picklist values fold to the enum's names (``Cold Call`` -> COLD_CALL, ``Web Site``
# -> WEB_SITE); the Spanish ones are the seed's; HubSpot's "Original Source" values last.
LEAD_SOURCE_LABELS = {
    "COLD_CALL": ("Llamada en frío",),
    "EXISTING_CUSTOMER": ("Cliente existente",),
    "SELF_GENERATED": ("Auto generado", "Autogenerado"),
    "EMPLOYEE": ("Empleado", "Referido por empleado"),
    "PARTNER": ("Socio", "Referido por socio"),
    "PUBLIC_RELATIONS": ("Relaciones públicas",),
    "DIRECT_MAIL": ("Correo directo", "Email Marketing"),
    "CONFERENCE": ("Conferencia",),
    "TRADE_SHOW": ("Feria comercial",),
    "WEB_SITE": ("Sitio web", "Página web", "Website", "Organic Search", "Direct Traffic",
                 "Paid Search"),
    "WORD_OF_MOUTH": ("Boca a boca", "Recomendación", "Referrals"),
    "OTHER": ("Otro", "Offline Sources", "Social Media", "Paid Social", "Other Campaigns"),
}  # fmt: skip
STATUS_LABELS = {"ACTIVE": ("Activo", "Activa"), "INACTIVE": ("Inactivo", "Inactiva")}

_ADDRESS = (
    ("street", 255), ("exteriorNumber", 20), ("interiorNumber", 20), ("neighborhood", 120),
    ("district", 120), ("city", 120), ("province", 120), ("state", 120),
)  # fmt: skip


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


_acc = _numbered("ACC")
COLUMNS: tuple[Column, ...] = (
    _column("contactNo", "contact.id", None, _number("CON"), format=_numbered("CON")),
    _column("salutation", "contact.salutation", 20),
    _column("firstName", "contact.first_name", 100),
    _column("lastName", "contact.last_name", 100),
    _column("jobTitle", "contact.job_title", 120),
    _column("role", "contact.role", None, _enum(ContactRole, ROLE_LABELS)),
    *_channel_columns(ChannelKind.EMAIL),
    *_channel_columns(ChannelKind.PHONE),
    *_channel_columns(ChannelKind.MOBILE),
    *_channel_columns(ChannelKind.WHATSAPP),
    *_channel_columns(ChannelKind.TELEGRAM),
    *_channel_columns(ChannelKind.SMS),
    *_channel_columns(ChannelKind.CHAT),
    *_channel_columns(ChannelKind.OTHER),
    _column("homePhone", "contact.home_phone", 40),
    _column("birthday", "contact.birthday", None, parse_date),
    _column("documentType", "contact.document_type", None, _enum(DocumentType, DOCUMENT_TYPES)),
    _column("documentNumber", "contact.document_number", 32),
    _column("isVip", "contact.is_vip", None, parse_boolean),
    _column("isPreferred", "contact.is_preferred", None, parse_boolean),
    _column("portalUser", "contact.portal_user", None, parse_boolean),
    _column("emailOptOut", "contact.email_opt_out", None, parse_boolean),
    _column("leadSource", "contact.lead_source", None, _enum(LeadSource, LEAD_SOURCE_LABELS)),
    _column("convertedFromLead", "contact.converted_from_lead", None, parse_boolean),
    _column("imageUrl", "contact.image_url", 500),
    _column("status", "contact.status", None, _enum(RecordStatus, STATUS_LABELS)),
    _column("tags", "contact.tags", None, parse_tags, format=format_tags),
    _column("accountNo", "account.id", None, _number("ACC"), "Account.accountNo", format=_acc),
    _column("accountName", "account.name", 200, allowlist="Account.name"),
    _column("locationName", "location.name", 200, allowlist="Location.name"),
    _column("ownerEmail", "owner.email", 254, allowlist="User.email"),
    *(_column(k, "address." + _snake(k), n, allowlist="Contact.addresses") for k, n in _ADDRESS),
    _column("country", "address.country", 2, parse_country, "Contact.addresses"),
    _column("postalCode", "address.postal_code", 12, allowlist="Contact.addresses"),
    _column("reference", "address.reference", 255, allowlist="Contact.addresses"),
    _column("createdAt", "contact.created_at", None, str, imported=False),
    _column("fullName", "contact.full_name", 201, parse_full_name, exported=False),
)
CUSTOM_FIELD = Column(
    CUSTOM_FIELD_PREFIX + "*", "contact.custom_fields", _text(2000), 2000, "Contact.customFields"
)
BY_KEY: dict[str, Column] = {column.key: column for column in COLUMNS}
EXPORTED: tuple[Column, ...] = tuple(column for column in COLUMNS if column.exported)


# ---------------------------------------------------------------- header families


@dataclass(frozen=True, slots=True)
class ColumnMatch:
    """A header of a file, recognised: its column, the key its cells go under (the column's
    key, or ``cf.<key>``), the family that writes it, and whether it only stands in for a
    better header of the same column (vtiger's ``otherstreet`` beside ``mailingstreet``)."""

    column: Column
    key: str
    family: str
    custom_field: str | None = None
    fallback: bool = False


# family -> column key -> headers. A header ending in " ?" is a fallback: used only when
# the file has no other header for that column.
FAMILIES: dict[str, dict[str, tuple[str, ...]]] = {
    "spanish": {
        "contactNo": ("Nº de contacto", "Número de contacto", "Código de contacto"),
        "salutation": ("Saludo", "Título", "Tratamiento"),
        "firstName": ("Nombre", "Nombres", "Nombre de pila"),
        "lastName": ("Apellidos", "Apellido"),
        "fullName": ("Nombre y apellido", "Nombre y apellidos", "Nombre completo"),
        "jobTitle": ("Cargo", "Puesto"),
        "role": ("Rol",),
        "email": ("Correo electrónico", "Correo", "Correo electrónico principal",
                  "Dirección de email del contacto", "Email principal"),
        "email2": ("Correo electrónico 2", "Correo 2", "Correo electrónico secundario",
                   "Email secundario"),
        "email3": ("Correo electrónico 3", "Correo 3"),
        "phone": ("Teléfono", "Teléfono fijo", "Teléfono de oficina"),
        "phone2": ("Teléfono 2",),
        "phone3": ("Teléfono 3",),
        "mobile": ("Móvil", "Celular", "Tel. Móvil", "Teléfono móvil", "Teléfono celular"),
        "mobile2": ("Móvil 2", "Celular 2"),
        "mobile3": ("Móvil 3", "Celular 3"),
        "whatsapp2": ("WhatsApp 2",),
        "otherChannel": ("Otra vía de contacto", "Otro canal"),
        "homePhone": ("Teléfono particular", "Tel. Particular", "Teléfono de casa"),
        "birthday": ("Fecha de nacimiento", "Cumpleaños"),
        "documentType": ("Tipo de documento",),
        "documentNumber": ("Número de documento", "Nº de documento", "Documento"),
        "isVip": ("¿Es VIP?", "Es VIP", "VIP"),
        "isPreferred": ("Preferido", "Contacto preferido"),
        "portalUser": ("Usuario de portal",),
        "emailOptOut": ("No enviar correos", "No enviar email"),
        "leadSource": ("Origen del prospecto", "Origen de prospecto"),
        "convertedFromLead": ("Creado a partir de prospecto", "Convertido de prospecto"),
        "imageUrl": ("Imagen del contacto", "Foto"),
        "status": ("Estado",),
        "tags": ("Etiquetas",),
        "accountNo": ("Nº de cliente", "Número de cliente", "Código de cliente"),
        "accountName": ("Empresa", "Cliente", "Cuenta"),
        "locationName": ("Ubicación", "Sede", "Punto de venta"),
        "ownerEmail": ("Correo del responsable", "Email del responsable"),
        "street": ("Dirección", "Calle", "Dirección (Envío) ?"),
        "exteriorNumber": ("Número exterior", "Num. Ext.", "Num. Ext. Envío ?"),
        "interiorNumber": ("Número interior", "Num. Int.", "Num. Int. Envío ?"),
        "neighborhood": ("Colonia", "Barrio", "Urbanización", "Colonia (Envío) ?"),
        "district": ("Distrito",),
        "city": ("Ciudad", "Municipio", "Deleg./Mpio.", "Deleg./Mpio. (Envío) ?"),
        "province": ("Provincia",),
        "state": ("Departamento", "Estado (Envío) ?"),
        "country": ("País", "País (Envío) ?"),
        "postalCode": ("Código postal", "Código Postal (Envío) ?"),
        "reference": ("Referencia",),
        "createdAt": ("Fecha de creación",),
    },
    # vtiger CRM: the Contacts module's field names (its API and database names) and their
    # English labels (its list export's header).
    "vtiger": {
        "salutation": ("salutationtype",),
        "firstName": ("First Name",),
        "lastName": ("Last Name",),
        "jobTitle": ("title",),
        "email2": ("secondaryemail", "Secondary Email"),
        "phone": ("Office Phone",),
        "phone2": ("otherphone", "Other Phone"),
        "birthday": ("Birthdate",),
        "portalUser": ("portal",),
        "convertedFromLead": ("isconvertedfromlead",),
        "accountName": ("account_id", "Account Name", "Organization Name"),
        "street": ("mailingstreet", "Mailing Street", "otherstreet ?", "Other Street ?"),
        "neighborhood": ("mailingpobox", "Mailing Po Box", "otherpobox ?", "Other Po Box ?"),
        "exteriorNumber": ("othernum_ext ?",),
        "interiorNumber": ("othernum_int ?",),
        "city": ("mailingcity", "Mailing City", "othercity ?", "Other City ?"),
        "state": ("mailingstate", "Mailing State", "otherstate ?", "Other State ?"),
        "postalCode": ("mailingzip", "Mailing Zip", "otherzip ?", "Other Zip ?"),
        "country": ("mailingcountry", "Mailing Country", "othercountry ?", "Other Country ?"),
        "createdAt": ("createdtime", "Created Time"),
    },
    # HubSpot's contacts export (property labels).
    "hubspot": {
        "email": ("Email",),
        "phone": ("Phone Number",),
        "mobile": ("Mobile Phone Number",),
        "whatsapp": ("WhatsApp Phone Number",),
        "accountName": ("Company Name", "Associated Company ?"),
        "jobTitle": ("Job Title",),
        "street": ("Street Address",),
        "state": ("State/Region",),
        "postalCode": ("Postal Code", "Zip"),
        "country": ("Country/Region",),
        "birthday": ("Date of birth",),
        "leadSource": ("Original Source",),
        "createdAt": ("Create Date",),
    },
    # SendPulse: a mailing list's export (email, Phone, Name and its variables) and the
    # CRM's contacts export.
    "sendpulse": {
        "fullName": ("Name",),
        "jobTitle": ("Position",),
        "accountName": ("Company",),
        "street": ("Address",),
        "createdAt": ("Created", "Date added"),
    },
}
FALLBACK_MARK = " ?"


def _header_table() -> dict[str, tuple[str, str, bool]]:
    """folded header -> (column key, family, fallback); a header claimed for two columns
    is a mistake in the tables, caught at import."""
    table: dict[str, tuple[str, str, bool]] = {}

    def claim(header: str, key: str, family: str) -> None:
        fallback = header.endswith(FALLBACK_MARK)
        folded = fold(header.removesuffix(FALLBACK_MARK))
        taken = table.get(folded)
        if taken is not None and taken[0] != key:
            raise ValueError(f"Header '{header}' ({family}) is {taken[0]} in {taken[1]}, not {key}")
        if taken is None:
            table[folded] = (key, family, fallback)

    for column in COLUMNS:
        claim(column.key, column.key, "export")
    for family, headers in FAMILIES.items():
        for key, names in headers.items():
            if key not in BY_KEY:
                raise ValueError(f"{family}: no column {key}")
            for name in names:
                claim(name, key, family)
    return table


_HEADERS = _header_table()


_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


def parse_custom_field(kind: CustomFieldType, cell: str) -> Any:
    """A ``cf.<key>`` cell as the value its definition's type stores (then checked as every
    write checks it, ``validation.custom_fields``): NUMBER ``2500``, ``2500.5`` or
    ``2500,5``; BOOLEAN as ``parse_boolean``; DATE as ``parse_date``, stored ISO;
    MULTI_SELECT options separated as tags are; others the text. An empty cell is None."""
    text = cell.strip()
    if not text:
        return None
    if kind == CustomFieldType.NUMBER:
        number = text.replace(",", ".") if _DECIMAL_COMMA.match(text) else text
        if not _NUMBER.match(number):
            raise CellError(ProblemCode.INVALID_CUSTOM_FIELD, f"'{text[:40]}' is not a number.")
        value = float(number)
        return int(value) if value.is_integer() and "." not in number else value
    if kind == CustomFieldType.BOOLEAN:
        return parse_boolean(text)
    if kind == CustomFieldType.DATE:
        return parse_date(text).isoformat()
    if kind == CustomFieldType.MULTI_SELECT:
        return parse_tags(text)
    return _text(2000)(cell)


def custom_field_header(key: str) -> str:
    return CUSTOM_FIELD_PREFIX + key


def column_for(header: str) -> ColumnMatch | None:
    """The column a header names, or None: ``Correo electrónico``, ``EMAIL``, ``e-mail``
    are ``email``; ``cf.nivel`` is the custom field ``nivel``."""
    text = header.strip()
    if text[: len(CUSTOM_FIELD_PREFIX)].casefold() == CUSTOM_FIELD_PREFIX:
        key = text[len(CUSTOM_FIELD_PREFIX) :].strip()
        if not key or len(key) > MAX_CUSTOM_FIELD_KEY or not key.isprintable():
            return None
        return ColumnMatch(CUSTOM_FIELD, custom_field_header(key), "export", custom_field=key)
    found = _HEADERS.get(fold(text))
    if found is None:
        return None
    key, family, fallback = found
    return ColumnMatch(BY_KEY[key], key, family, fallback=fallback)


def unchanged(column: Column, stored: Any, cell: str) -> bool:
    """Whether a cell holds what is stored: the same text as the export writes for it (a
    custom field's ``3`` or ``false``, whose type a cell does not say), or the same value."""
    if column.format(stored) == cell:
        return True
    try:
        return bool(column.parse(cell) == stored)
    except CellError:
        return False
