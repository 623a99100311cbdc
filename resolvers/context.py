"""What every resolver receives: who is asking, and the request's loaders."""

from __future__ import annotations

from dataclasses import dataclass, field

from models import ApiToken, User
from resolvers.errors import Unauthenticated
from resolvers.loaders import Loaders


@dataclass(slots=True)
class RequestContext:
    user: User | None = None
    token: ApiToken | None = None
    auth_error: str | None = None
    # graphql-transport-ws: the connection_init payload, where the token travels.
    connection_params: dict | None = None
    loaders: Loaders = field(default_factory=Loaders)

    @property
    def viewer(self) -> User:
        """The signed-in user; anonymous callers get UNAUTHENTICATED."""
        if self.user is None:
            raise Unauthenticated(
                self.auth_error or "Sign in: send `Authorization: Bearer <token>`."
            )
        return self.user
