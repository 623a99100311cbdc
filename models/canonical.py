"""The canonical forms of phone numbers, shared by the checks (``resolvers.validation``), the
models' derived fields and the demo data: no ``Problems`` here, only what a value *is*.

The region a number is read in comes from its contact's location, else its account's main
location, else the server's default region (``--default-region``, ``PE``): the last is
``DEFAULT_REGION``, set per request by the server and at start-up around the migrations.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

DEFAULT_REGION: ContextVar[str] = ContextVar("default_region", default="PE")


@contextmanager
def default_region(region: str) -> Iterator[None]:
    """Numbers without a country of their own are read in ``region`` inside."""
    token = DEFAULT_REGION.set(region)
    try:
        yield
    finally:
        DEFAULT_REGION.reset(token)


def region_of(*countries: str | None) -> str:
    """The first country given (location, then account's main location), else the default."""
    return next((country for country in countries if country), DEFAULT_REGION.get())


def parse_phone(value: str, region: str) -> PhoneNumber | None:
    """The number ``value`` names when read in ``region``, or None when it is not a valid
    number (``is_valid_number``: a number of a range the country assigns, not only one of a
    possible length). Mexico's old mobile prefix (``+52 1 55 …``) folds into ``+52 55 …``."""
    try:
        number = phonenumbers.parse(value, region)
    except NumberParseException:
        return None
    national = str(number.national_number)
    if number.country_code == 52 and len(national) == 11 and national.startswith("1"):
        number = PhoneNumber(country_code=52, national_number=int(national[1:]))
    return number if phonenumbers.is_valid_number(number) else None


def phone_region_used(value: str, region: str) -> str:
    """The region ``value`` is read in: its own when it starts with ``+`` and a known code."""
    try:
        number = phonenumbers.parse(value, region)
    except NumberParseException:
        return region
    found = phonenumbers.region_code_for_country_code(number.country_code)
    return region if found == phonenumbers.UNKNOWN_REGION else found


def e164(number: PhoneNumber) -> str:
    """``+51999888777``: the form stored in ``Channel.e164``."""
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def national_display(e164_value: str | None) -> str | None:
    """``999 888 777``: a stored E.164 number in its own country's national format."""
    if not e164_value:
        return None
    try:
        number = phonenumbers.parse(e164_value, None)
    except NumberParseException:
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)


def national_digits(number: PhoneNumber) -> str:
    """The national significant number (``999888777``): part of every way to type it."""
    return phonenumbers.national_significant_number(number)
