"""Errors that refuse a request as a whole: each becomes one GraphQL error whose
``extensions.code`` is the class's ``code`` (``engine.extensions.coded``)."""

from __future__ import annotations


class RequestError(Exception):
    """A request the API refuses as a whole; ``code`` goes to ``extensions.code``."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, argument: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.argument = argument


class BadInput(RequestError):
    code = "BAD_USER_INPUT"


class Unauthenticated(RequestError):
    code = "UNAUTHENTICATED"


class Forbidden(RequestError):
    code = "FORBIDDEN"
