"""Who may see and do what (rule 8): one place, applied to every way data leaves or enters.

Rows: ``ADMIN`` and ``MANAGER`` see everything; ``AGENT`` and ``PARTNER`` see the accounts
owned by themselves or by a member of their team, and with them those accounts' locations,
contacts, channels, activities and audit events. Every queryset the API reads from starts
at :meth:`Access.rows`, so what a caller cannot see behaves as if it did not exist: lists
and counts leave it out, ``node`` answers null, mutations answer ``NOT_FOUND``.

Areas: a token's scopes (``<area>:read`` / ``<area>:write``) narrow what its user may do; a
token without scopes has its user's full rights, and no scope grants more than the role.
A token may also carry a field allowlist (``Contact.fullName``): other fields of the node
types answer ``FORBIDDEN`` at their path.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tortoise.expressions import Q, Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models import ApiToken, User
from models.enums import Role
from models.registry import ENTITIES, Area, Visibility
from resolvers.errors import Forbidden, ProblemCode, Problems
from resolvers.ids import expect_id

SCOPES = frozenset(f"{area}:{mode}" for area in Area for mode in ("read", "write"))

# What each role may change. Reading follows the rows a role sees.
WRITES: dict[Role, frozenset[Area]] = {
    Role.ADMIN: frozenset(Area),
    Role.MANAGER: frozenset({Area.ACCOUNTS, Area.CONTACTS, Area.ACTIVITIES}),
    Role.AGENT: frozenset({Area.ACCOUNTS, Area.CONTACTS, Area.ACTIVITIES}),
    Role.PARTNER: frozenset({Area.CONTACTS, Area.ACTIVITIES}),
}
SEES_EVERYTHING = frozenset({Role.ADMIN, Role.MANAGER})
# Deactivating an account, and giving a record to someone outside one's team.
SUPERVISORS = frozenset({Role.ADMIN, Role.MANAGER})
AUDIT_READERS = frozenset({Role.ADMIN, Role.MANAGER})

# The entity whose rows are the accounts themselves: every other row hangs off one of them.
_ACCOUNTS = next(entity for entity in ENTITIES if entity.account_column == "id")

M = TypeVar("M", bound=Model)


def _spoken(type_name: str) -> str:
    """``ApiToken`` -> ``API token``: type names as a message says them."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", type_name).lower().replace("api ", "API ")


@dataclass(frozen=True, slots=True)
class Access:
    """The rights of one request: its user, and what its token narrows them to."""

    user: User
    scopes: frozenset[str] = frozenset()
    allowed_fields: frozenset[str] | None = None

    @staticmethod
    def of(user: User, token: ApiToken | None) -> Access:
        if token is None:
            return Access(user)
        allowlist = frozenset(token.allowed_fields) if token.allowed_fields else None
        return Access(user, frozenset(token.scopes or ()), allowlist)

    @property
    def role(self) -> Role:
        return Role(self.user.role)

    @property
    def sees_everything(self) -> bool:
        return self.role in SEES_EVERYTHING

    @property
    def restricted(self) -> bool:
        """A token narrower than its user: its requests go through the field guard."""
        return bool(self.scopes) or self.allowed_fields is not None

    # ------------------------------------------------------------ rows

    def owners(self) -> Subquery:
        """Ids of the users whose accounts this caller sees: themselves and their team."""
        team = Q(team_id=self.user.team_id) if self.user.team_id is not None else Q(id=None)
        return Subquery(User.filter(Q(id=self.user.id) | team).values("id"))

    def condition(self, model: type[Model]) -> Q | None:
        """The visibility condition on ``model``'s rows (its registry entry says which
        applies); None when everything is visible."""
        if self.sees_everything:
            return None
        entity = ENTITIES.of(model)
        if entity is None:
            raise LookupError(f"{model.__name__} is not in the entity registry")
        visibility = entity.visibility
        if visibility is Visibility.ACCOUNT:
            visible_accounts = Q(owner_id__in=self.owners())
            if entity is _ACCOUNTS:
                return visible_accounts
            accounts = Subquery(_ACCOUNTS.model.filter(visible_accounts).values("id"))
            return Q(**{f"{entity.account_column}__in": accounts})
        if visibility is Visibility.PARENT:
            column, parent = entity.parent
            return Q(**{f"{column}__in": Subquery(self.rows(ENTITIES[parent].model).values("id"))})
        if visibility is Visibility.OWN:
            return Q(**{entity.own_column: self.user.id})
        if visibility is Visibility.AUDITORS:
            # The whole log is for auditors; others see an entity's history through the entity.
            return None if self.role in AUDIT_READERS else Q(id=None)
        return None  # DIRECTORY: users and teams are visible to every signed-in user

    @property
    def rows_key(self) -> Hashable:
        """Everything :meth:`rows` depends on: callers with equal keys see the same rows
        through the same SQL, so statements may be cached by it."""
        return None if self.sees_everything else (self.role, self.user.id, self.user.team_id)

    def rows(self, model: type[Model]) -> QuerySet:
        """Every row of ``model`` this caller may see: where every read and lookup starts."""
        condition = self.condition(model)
        return model.all() if condition is None else model.filter(condition)

    async def find(self, problems: Problems, model: type[M], gid: Any, path: str) -> M | None:
        """The ``model`` row behind the global id ``gid`` if this caller may see it; else
        None, with the problem recorded at ``path`` (what one cannot see does not exist)."""
        if gid is None:
            return None
        type_name = model.__name__
        pk = expect_id(gid, type_name, path, problems)
        if pk is None:
            return None
        row = await self.rows(model).get_or_none(id=pk)
        if row is None:
            problems.add(ProblemCode.NOT_FOUND, path, f"No {_spoken(type_name)} has this id.")
        return row

    async def owner_id(self, problems: Problems, gid: Any, path: str = "ownerId") -> int | None:
        """The user key of an ``ownerId`` input, checked: the user exists (else a problem at
        ``path``) and this caller may give records to them (else FORBIDDEN)."""
        [pk] = await self.owner_ids([(problems, gid)], path)
        return pk

    async def owner_ids(
        self, wanted: Sequence[tuple[Problems, Any]], path: str = "ownerId"
    ) -> list[int | None]:
        """``owner_id`` for many inputs ``(their problems, ownerId)``, in one statement."""
        pks = [expect_id(gid, "User", path, problems) for problems, gid in wanted]
        asked = sorted({pk for pk in pks if pk is not None})
        teams = dict(await User.filter(id__in=asked).values_list("id", "team_id")) if asked else {}
        found: list[int | None] = []
        for (problems, _), pk in zip(wanted, pks, strict=True):
            if pk is not None and pk not in teams:
                problems.add(ProblemCode.NOT_FOUND, path, "No user has this id.")
                pk = None
            if pk is not None and not self._may_give_to(pk, teams[pk]):
                raise Forbidden("Only a manager or an admin may give records to another team.")
            found.append(pk)
        return found

    def _may_give_to(self, user_id: int, team_id: int | None) -> bool:
        """``may_own`` of a user whose team is known."""
        if self.role in SUPERVISORS or user_id == self.user.id:
            return True
        return self.user.team_id is not None and team_id == self.user.team_id

    async def may_own(self, user_id: int) -> bool:
        """May this caller give a record to ``user_id``? Supervisors: anyone; others: their
        own team, so that nothing they create disappears from their sight."""
        if self.role in SUPERVISORS or user_id == self.user.id:
            return True
        if self.user.team_id is None:
            return False
        return await User.filter(id=user_id, team_id=self.user.team_id).exists()

    # ------------------------------------------------------------ areas and fields

    def can_read(self, area: Area) -> bool:
        if not self.scopes:
            return True
        return f"{area}:read" in self.scopes or f"{area}:write" in self.scopes

    def can_write(self, area: Area) -> bool:
        if area not in WRITES[self.role]:
            return False
        return not self.scopes or f"{area}:write" in self.scopes

    def require_read(self, area: Area) -> Access:
        if not self.can_read(area):
            raise Forbidden(self._refusal(area, "read"))
        return self

    def require_write(self, area: Area) -> Access:
        if not self.can_write(area):
            raise Forbidden(self._refusal(area, "write"))
        return self

    def require_auditor(self) -> Access:
        if self.role not in AUDIT_READERS:
            raise Forbidden("Only a manager or an admin may read the whole audit log.")
        return self.require_read(Area.AUDIT)

    def require_supervisor(self, what: str) -> None:
        if self.role not in SUPERVISORS:
            raise Forbidden(f"Only a manager or an admin may {what}.")

    def allows_field(self, type_name: str, field_name: str) -> bool:
        if self.allowed_fields is None or field_name == "id":
            return True
        return f"{type_name}.{field_name}" in self.allowed_fields

    def _refusal(self, area: Area, mode: str) -> str:
        if self.scopes and (area in WRITES[self.role] or mode == "read"):
            return f"This token lacks the `{area}:{mode}` scope."
        return f"A user with role {self.role.value} may not {mode} {area}."
