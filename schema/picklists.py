"""``picklists(locale)``: every enum of the schema with each value's label, for selects.

``LABELS`` is the one place labels live: an enum added to the schema needs its entry here,
each value a ``(Spanish, English)`` pair (`tests/test_picklists.py` walks the live schema and
fails until it has one). The Spanish labels are the seeds' (`../shared/seeds/`).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry
from graphql import GraphQLEnumType

from engine.types import GraphInfo, documented_enum


class LocaleCode(Enum):
    ES = "ES"
    EN = "EN"


Locale = documented_enum(
    LocaleCode,
    "A language of the labels.",
    {"ES": "Spanish (español).", "EN": "English."},
    name="Locale",
)

# enum -> value -> (Spanish, English)
LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "AccountOrderField": {
        "NAME": ("Nombre", "Name"),
        "ACCOUNT_NO": ("Número de cliente", "Account number"),
        "CREATED_AT": ("Fecha de creación", "Created"),
        "UPDATED_AT": ("Fecha de modificación", "Updated"),
    },
    "ActivityKind": {
        "CALL": ("Llamada", "Call"),
        "MEETING": ("Reunión", "Meeting"),
        "TASK": ("Tarea", "Task"),
        "NOTE": ("Nota", "Note"),
        "EMAIL": ("Correo electrónico", "Email"),
    },
    "ActivityOrderField": {
        "CREATED_AT": ("Fecha de creación", "Created"),
        "UPDATED_AT": ("Fecha de modificación", "Updated"),
    },
    "ActivityStatus": {
        "PLANNED": ("Planificado", "Planned"),
        "HELD": ("Realizado", "Held"),
        "NOT_HELD": ("No realizado", "Not held"),
        "NOT_STARTED": ("No iniciada", "Not started"),
        "IN_PROGRESS": ("En progreso", "In progress"),
        "COMPLETED": ("Completada", "Completed"),
        "CANCELLED": ("Cancelada", "Cancelled"),
    },
    "AuditAction": {
        "CREATED": ("Creado", "Created"),
        "UPDATED": ("Modificado", "Updated"),
        "ACTIVATED": ("Activado", "Activated"),
        "DEACTIVATED": ("Desactivado", "Deactivated"),
        "DELETED": ("Eliminado", "Deleted"),
        "MERGED": ("Fusionado", "Merged"),
        "IMPORTED": ("Importado", "Imported"),
    },
    "AuditEventOrderField": {"OCCURRED_AT": ("Fecha del evento", "Occurred")},
    "AuditPeriod": {
        "TODAY": ("Hoy", "Today"),
        "THIS_WEEK": ("Esta semana", "This week"),
        "THIS_MONTH": ("Este mes", "This month"),
        "THIS_YEAR": ("Este año", "This year"),
    },
    "CallDirection": {
        "INBOUND": ("Entrante", "Inbound"),
        "OUTBOUND": ("Saliente", "Outbound"),
        "MISSED": ("Perdida", "Missed"),
    },
    "CaptureSource": {
        "MANUAL": ("Manual", "Manual"),
        "IMPORT": ("Importación", "Import"),
        "WEB_FORM": ("Formulario web", "Web form"),
        "API": ("API", "API"),
        "DUPLICATE": ("Duplicado", "Duplicate"),
        "MERGE": ("Fusión", "Merge"),
    },
    "ChannelKind": {
        "EMAIL": ("Correo electrónico", "Email"),
        "PHONE": ("Teléfono", "Phone"),
        "MOBILE": ("Móvil", "Mobile"),
        "WHATSAPP": ("WhatsApp", "WhatsApp"),
        "TELEGRAM": ("Telegram", "Telegram"),
        "SMS": ("SMS", "SMS"),
        "CHAT": ("Chat", "Chat"),
        "OTHER": ("Otro", "Other"),
    },
    "ContactOrderField": {
        "LAST_NAME": ("Apellidos", "Last name"),
        "FIRST_NAME": ("Nombre", "First name"),
        "CONTACT_NO": ("Número de contacto", "Contact number"),
        "CREATED_AT": ("Fecha de creación", "Created"),
        "UPDATED_AT": ("Fecha de modificación", "Updated"),
    },
    "ContactRole": {
        "BUYER": ("Comprador", "Buyer"),
        "OWNER": ("Propietario", "Owner"),
        "MANAGER": ("Gerente", "Manager"),
        "ACCOUNTING": ("Contabilidad", "Accounting"),
        "RECEPTION": ("Recepción", "Reception"),
        "OTHER": ("Otro", "Other"),
    },
    "DocumentType": {
        "DNI": ("DNI", "DNI (national identity document)"),
        "RUC": ("RUC", "RUC (taxpayer number)"),
        "PASSPORT": ("Pasaporte", "Passport"),
        "FOREIGN_ID": ("Documento extranjero", "Foreign ID"),
        "CE": ("Carné de extranjería", "Foreigner's card (CE)"),
        "RFC": ("RFC", "RFC (Mexican tax id)"),
        "CURP": ("CURP", "CURP (Mexican population registry)"),
        "OTHER": ("Otro", "Other"),
    },
    "LeadSource": {
        "COLD_CALL": ("Llamada en frío", "Cold call"),
        "EXISTING_CUSTOMER": ("Cliente existente", "Existing customer"),
        "SELF_GENERATED": ("Auto generado", "Self generated"),
        "EMPLOYEE": ("Empleado", "Employee"),
        "PARTNER": ("Socio", "Partner"),
        "PUBLIC_RELATIONS": ("Relaciones públicas", "Public relations"),
        "DIRECT_MAIL": ("Correo directo", "Direct mail"),
        "CONFERENCE": ("Conferencia", "Conference"),
        "TRADE_SHOW": ("Feria comercial", "Trade show"),
        "WEB_SITE": ("Sitio web", "Web site"),
        "WORD_OF_MOUTH": ("Boca a boca", "Word of mouth"),
        "OTHER": ("Otro", "Other"),
    },
    "Locale": {"ES": ("Español", "Spanish"), "EN": ("Inglés", "English")},
    "LocationKind": {
        "MAIN": ("Principal", "Main"),
        "OUTLET": ("Punto de venta", "Outlet"),
        "BRANCH": ("Sucursal", "Branch"),
        "WAREHOUSE": ("Almacén", "Warehouse"),
        "SHIPPING": ("Dirección de envío", "Shipping address"),
        "BILLING": ("Dirección de facturación", "Billing address"),
        "HOME": ("Domicilio", "Home"),
        "OTHER": ("Otro", "Other"),
    },
    "LocationOrderField": {
        "NAME": ("Nombre", "Name"),
        "CITY": ("Ciudad", "City"),
        "CREATED_AT": ("Fecha de creación", "Created"),
    },
    "OrderDirection": {"ASC": ("Ascendente", "Ascending"), "DESC": ("Descendente", "Descending")},
    "RecordStatus": {"ACTIVE": ("Activo", "Active"), "INACTIVE": ("Inactivo", "Inactive")},
    "Role": {
        "ADMIN": ("Administrador", "Administrator"),
        "MANAGER": ("Gerente", "Manager"),
        "AGENT": ("Agente", "Agent"),
        "PARTNER": ("Socio", "Partner"),
    },
    "UserErrorCode": {
        "REQUIRED": ("Obligatorio", "Required"),
        "BLANK": ("Vacío", "Blank"),
        "TOO_LONG": ("Demasiado largo", "Too long"),
        "INVALID_CHARACTERS": ("Caracteres no válidos", "Invalid characters"),
        "INVALID_FORMAT": ("Formato no válido", "Invalid format"),
        "INVALID_EMAIL": ("Correo no válido", "Invalid email"),
        "INVALID_PHONE": ("Teléfono no válido", "Invalid phone"),
        "INVALID_DOCUMENT": ("Documento no válido", "Invalid document"),
        "INVALID_DATE": ("Fecha no válida", "Invalid date"),
        "INVALID_ID": ("Identificador no válido", "Invalid id"),
        "NOT_FOUND": ("No encontrado", "Not found"),
        "OUT_OF_RANGE": ("Fuera de rango", "Out of range"),
        "DUPLICATE_EMAIL": ("Correo duplicado", "Duplicate email"),
        "DUPLICATE_DOCUMENT": ("Documento duplicado", "Duplicate document"),
        "DUPLICATE_NAME": ("Nombre duplicado", "Duplicate name"),
        "LOCATION_MISMATCH": ("Ubicación de otro cliente", "Location of another account"),
        "CONTACT_MISMATCH": ("Contacto de otro cliente", "Contact of another account"),
        "LOCATION_IN_USE": ("Ubicación en uso", "Location in use"),
        "MAIN_LOCATION": ("Ubicación principal", "Main location"),
        "TARGET_REQUIRED": ("Falta el destino", "Target required"),
        "INVALID_STATUS": ("Estado no válido", "Invalid status"),
        "INVALID_KIND": ("Tipo no válido", "Invalid kind"),
        "INACTIVE": ("Inactivo", "Inactive"),
        "ALREADY_IN_STATE": ("Ya está en ese estado", "Already in that state"),
        "LAST_ADMIN": ("Último administrador", "Last administrator"),
        "BATCH_CONFLICT": ("Conflicto en el lote", "Batch conflict"),
        "INVALID_CUSTOM_FIELD": ("Campo adicional no válido", "Invalid custom field"),
        "FILE_TOO_LARGE": ("Archivo demasiado grande", "File too large"),
        "FILE_TYPE_NOT_ALLOWED": ("Tipo de archivo no permitido", "File type not allowed"),
        "EMPTY_FILE": ("Archivo vacío", "Empty file"),
        # An imported file refused as a whole, or one of its rows.
        "UNSUPPORTED_FILE": ("Archivo no admitido", "Unsupported file"),
        "UNREADABLE_FILE": ("Archivo ilegible", "Unreadable file"),
        "HEADER_ONLY": ("Solo encabezados", "Header only"),
        "NO_KNOWN_COLUMNS": ("Ninguna columna conocida", "No known columns"),
        "UNKNOWN_COLUMN": ("Columna desconocida", "Unknown column"),
        "DUPLICATE_COLUMN": ("Columna duplicada", "Duplicate column"),
        "TOO_MANY_COLUMNS": ("Demasiadas columnas", "Too many columns"),
        "TOO_MANY_ROWS": ("Demasiadas filas", "Too many rows"),
        "DUPLICATE_ROW": ("Fila duplicada", "Duplicate row"),
    },
    "UserOrderField": {
        "NAME": ("Nombre", "Name"),
        "EMAIL": ("Correo electrónico", "Email"),
        "CREATED_AT": ("Fecha de creación", "Created"),
    },
    "ImportStatus": {
        "RUNNING": ("En curso", "Running"),
        "SUCCEEDED": ("Terminada", "Succeeded"),
        "FAILED": ("Fallida", "Failed"),
    },
    "ContactImportOrderField": {"STARTED_AT": ("Fecha de inicio", "Started")},
    "OnMatch": {"UPDATE": ("Actualizar", "Update"), "SKIP": ("Omitir", "Skip")},
    "DocumentKind": {
        "CONTRACT": ("Contrato", "Contract"),
        "ID_CARD": ("Documento de identidad", "ID card"),
        "INVOICE": ("Factura", "Invoice"),
        "PROOF_OF_ADDRESS": ("Comprobante de domicilio", "Proof of address"),
        "PHOTO": ("Foto", "Photo"),
        "OTHER": ("Otro", "Other"),
    },
    "ReviewStatus": {
        "PENDING": ("Pendiente", "Pending"),
        "VALID": ("Válido", "Valid"),
        "REJECTED": ("Rechazado", "Rejected"),
    },
    "CustomFieldEntity": {"ACCOUNT": ("Cliente", "Account"), "CONTACT": ("Contacto", "Contact")},
    "CustomFieldType": {
        "TEXT": ("Texto", "Text"),
        "NUMBER": ("Número", "Number"),
        "DATE": ("Fecha", "Date"),
        "BOOLEAN": ("Sí / No", "Yes / No"),
        "SELECT": ("Lista de selección", "Select"),
        "MULTI_SELECT": ("Selección múltiple", "Multi-select"),
        "URL": ("Enlace", "URL"),
        "EMAIL": ("Correo electrónico", "Email"),
        "PHONE": ("Teléfono", "Phone"),
    },
}
_LANGUAGE = {LocaleCode.ES: 0, LocaleCode.EN: 1}


@strawberry.type(description="One value of an enum with its label in the asked language.")
class PicklistValue:
    value: str = strawberry.field(description="The enum value as the API takes it (`COLD_CALL`).")
    label: str = strawberry.field(description="Its label in the asked language.")


@strawberry.type(description="An enum of the schema with the labels of its values.")
class Picklist:
    name: str = strawberry.field(description="The enum's name in the schema (`LeadSource`).")
    values: list[PicklistValue] = strawberry.field(
        description="Its values in the schema's order, each with its label."
    )


def picklists_of(enums: list[GraphQLEnumType], locale: LocaleCode) -> list[Picklist]:
    """``enums`` with their labels; a value not labelled yet shows its own name."""
    language = _LANGUAGE[locale]
    lists = []
    for enum in sorted(enums, key=lambda e: e.name):
        labels = LABELS.get(enum.name, {})
        values = [
            PicklistValue(value=value, label=labels[value][language] if value in labels else value)
            for value in enum.values
        ]
        lists.append(Picklist(name=enum.name, values=values))
    return lists


def schema_enums(info: GraphInfo) -> list[GraphQLEnumType]:
    """Every enum of the schema ``info`` runs on, but the introspection ones."""
    type_map = info.schema._schema.type_map
    return [t for name, t in type_map.items()
            if isinstance(t, GraphQLEnumType) and not name.startswith("__")]  # fmt: skip


@strawberry.type
class PicklistQuery:
    @strawberry.field(
        description="Every enum of the schema with each value's label in `locale`, for front "
        "ends to draw their selects."
    )
    def picklists(
        self,
        info: GraphInfo,
        locale: Annotated[
            Locale, strawberry.argument(description="The language of the labels.")
        ] = LocaleCode.ES,
    ) -> list[Picklist]:
        info.context.viewer  # noqa: B018 - signed-in callers only
        return picklists_of(schema_enums(info), locale)
