"""What every resolver receives: who is asking, and the request's loaders."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.context import OperationContext
from models import ApiToken, User
from models.enums import Role
from resolvers.access import Access
from resolvers.errors import Unauthenticated
from resolvers.loaders import Loaders
from resolvers.users import token_still_live


@dataclass(slots=True)
class RequestContext(OperationContext):
    user: User | None = None
    token: ApiToken | None = None
    auth_error: str | None = None
    # graphql-transport-ws: the connection_init payload, where the token travels.
    connection_params: dict | None = None
    loaders: Loaders = field(init=False)
    _access: Access | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.reset_loaders()

    async def recheck_token(self) -> None:
        """Sign out a long-lived connection whose token was revoked or expired meanwhile."""
        if self.token is None:
            return
        live = await token_still_live(self.token.pk)
        if live is None:
            self.user, self.token = None, None
            self.auth_error = "The token is unknown, expired or revoked."
        else:
            self.user, self.token = live

    async def start_operation(self) -> None:
        """A WebSocket keeps one context for many operations: loaders must not outlive one,
        and its token is checked again before each (revocation reaches open sockets too)."""
        if self.connection_params is not None:
            await self.recheck_token()
        self.reset_loaders()

    def end_operation(self) -> None:
        """The operation's rows are freed at once, not by the cycle collector."""
        self.loaders.close()

    @property
    def suggestions(self) -> bool:
        """Admins may see "Did you mean …?": suggestions map the schema for anyone who
        guesses names."""
        return self.user is not None and self.user.role == Role.ADMIN

    def reset_loaders(self) -> None:
        """Fresh loaders, for the caller as signed in now (a WebSocket signs in late)."""
        self._access = Access.of(self.user, self.token) if self.user is not None else None
        self.loaders = Loaders(self._access)

    @property
    def viewer(self) -> User:
        """The signed-in user; anonymous callers get UNAUTHENTICATED."""
        return self.access.user

    @property
    def restricted(self) -> bool:
        """Signed in with a token narrower than its user (scopes or a field allowlist)."""
        return self._access is not None and self._access.restricted

    @property
    def access(self) -> Access:
        """The caller's rights; anonymous callers get UNAUTHENTICATED."""
        if self.user is None:
            raise Unauthenticated(
                self.auth_error or "Sign in: send `Authorization: Bearer <token>`."
            )
        if self._access is None or self._access.user is not self.user:
            self.reset_loaders()
        return self._access
