"""Closed vocabularies stored in the database. The GraphQL layer documents them."""

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "ADMIN"
    MANAGER = "MANAGER"
    AGENT = "AGENT"
    PARTNER = "PARTNER"


class RecordStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


class LocationKind(StrEnum):
    MAIN = "MAIN"
    OUTLET = "OUTLET"
    BRANCH = "BRANCH"
    WAREHOUSE = "WAREHOUSE"
    SHIPPING = "SHIPPING"
    BILLING = "BILLING"
    HOME = "HOME"
    OTHER = "OTHER"


# The kinds a contact's own address may have (Location.contact is set only for these).
CONTACT_ADDRESS_KINDS = frozenset({LocationKind.HOME, LocationKind.SHIPPING, LocationKind.BILLING})


class ContactRole(StrEnum):
    BUYER = "BUYER"
    OWNER = "OWNER"
    MANAGER = "MANAGER"
    ACCOUNTING = "ACCOUNTING"
    RECEPTION = "RECEPTION"
    OTHER = "OTHER"


class DocumentType(StrEnum):
    DNI = "DNI"
    RUC = "RUC"
    PASSPORT = "PASSPORT"
    FOREIGN_ID = "FOREIGN_ID"
    CE = "CE"
    RFC = "RFC"
    CURP = "CURP"
    OTHER = "OTHER"


class LeadSource(StrEnum):
    COLD_CALL = "COLD_CALL"
    EXISTING_CUSTOMER = "EXISTING_CUSTOMER"
    SELF_GENERATED = "SELF_GENERATED"
    EMPLOYEE = "EMPLOYEE"
    PARTNER = "PARTNER"
    PUBLIC_RELATIONS = "PUBLIC_RELATIONS"
    DIRECT_MAIL = "DIRECT_MAIL"
    CONFERENCE = "CONFERENCE"
    TRADE_SHOW = "TRADE_SHOW"
    WEB_SITE = "WEB_SITE"
    WORD_OF_MOUTH = "WORD_OF_MOUTH"
    OTHER = "OTHER"


class CaptureSource(StrEnum):
    MANUAL = "MANUAL"
    IMPORT = "IMPORT"
    WEB_FORM = "WEB_FORM"
    API = "API"
    DUPLICATE = "DUPLICATE"
    MERGE = "MERGE"


class ChannelKind(StrEnum):
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    MOBILE = "MOBILE"
    WHATSAPP = "WHATSAPP"
    TELEGRAM = "TELEGRAM"
    SMS = "SMS"
    CHAT = "CHAT"
    OTHER = "OTHER"


# Channel kinds whose value is a phone number (validated and searched by its digits).
PHONE_CHANNEL_KINDS = frozenset(
    {ChannelKind.PHONE, ChannelKind.MOBILE, ChannelKind.WHATSAPP, ChannelKind.SMS}
)


class ActivityKind(StrEnum):
    CALL = "CALL"
    MEETING = "MEETING"
    TASK = "TASK"
    NOTE = "NOTE"
    EMAIL = "EMAIL"


EVENT_KINDS = frozenset({ActivityKind.CALL, ActivityKind.MEETING})
TODO_KINDS = frozenset({ActivityKind.TASK, ActivityKind.EMAIL})


class ActivityStatus(StrEnum):
    PLANNED = "PLANNED"
    HELD = "HELD"
    NOT_HELD = "NOT_HELD"
    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


EVENT_STATUSES = frozenset({ActivityStatus.PLANNED, ActivityStatus.HELD, ActivityStatus.NOT_HELD})
TODO_STATUSES = frozenset(
    {
        ActivityStatus.NOT_STARTED,
        ActivityStatus.IN_PROGRESS,
        ActivityStatus.COMPLETED,
        ActivityStatus.CANCELLED,
    }
)


class CallDirection(StrEnum):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"
    MISSED = "MISSED"


class AuditAction(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    ACTIVATED = "ACTIVATED"
    DEACTIVATED = "DEACTIVATED"
    DELETED = "DELETED"
    MERGED = "MERGED"
    IMPORTED = "IMPORTED"


class CustomFieldEntity(StrEnum):
    ACCOUNT = "ACCOUNT"
    CONTACT = "CONTACT"


class CustomFieldType(StrEnum):
    TEXT = "TEXT"
    NUMBER = "NUMBER"
    DATE = "DATE"
    BOOLEAN = "BOOLEAN"
    SELECT = "SELECT"
    MULTI_SELECT = "MULTI_SELECT"
    URL = "URL"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
class ImportStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class OnMatch(StrEnum):
    """What an import does with a row that matches an existing contact."""

    UPDATE = "UPDATE"
    SKIP = "SKIP"


class DocumentKind(StrEnum):
    CONTRACT = "CONTRACT"
    ID_CARD = "ID_CARD"
    INVOICE = "INVOICE"
    PROOF_OF_ADDRESS = "PROOF_OF_ADDRESS"
    PHOTO = "PHOTO"
    OTHER = "OTHER"


class ReviewStatus(StrEnum):
    PENDING = "PENDING"
    VALID = "VALID"
    REJECTED = "REJECTED"
