"""Users, teams and API tokens: lists, sign-in by token, the start-up admin, and the
admin-only mutations that manage them."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet

from engine.pagination import Ordering, Page, PageArgs, SortKey, paginate
from engine.rows import fetch_by_value
from models import ApiToken, Team, User
from models.enums import AuditAction, Role
from models.registry import ENTITIES
from resolvers import audit
from resolvers import validation as check
from resolvers.access import SCOPES, Access, Area
from resolvers.errors import Forbidden, ProblemCode, Problems, Rejected
from resolvers.ids import expect_id
from resolvers.listing import filter_id, ordering, searched
from resolvers.unit_of_work import Unit, change

USER_ORDER_KEYS = {
    "NAME": (SortKey("name"),),
    "EMAIL": (SortKey("email"),),
    "CREATED_AT": (SortKey("created_at", kind=datetime),),
}
TEAM_ORDER = ordering(None, {"NAME": (SortKey("name"),)}, "NAME")
TOKEN_PREFIX = "crm_"
USER_AUDITED = ENTITIES["User"].audited
LAST_USED_RESOLUTION = timedelta(minutes=1)
TOKEN_AUDITED = ENTITIES["ApiToken"].audited


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def user_for_token(secret: str) -> tuple[User, ApiToken] | None:
    """The active user and live token behind a bearer secret, or None."""
    # One statement, built once: the token joined with its user.
    found = await fetch_by_value(
        "token by secret hash", ApiToken, hash_secret(secret), _token_by_hash
    )
    return await _in_use(found[0] if found else None)


def _token_by_hash(secret_hash: str) -> QuerySet[ApiToken]:
    return ApiToken.filter(secret_hash=secret_hash).select_related("user").limit(1)


async def token_still_live(token_id: int) -> tuple[User, ApiToken] | None:
    """A long-lived connection's token read again: None once revoked, expired, or its user
    deactivated (a WebSocket checks before each operation)."""
    return await _in_use(await ApiToken.filter(id=token_id).select_related("user").first())


async def _in_use(token: ApiToken | None) -> tuple[User, ApiToken] | None:
    now = datetime.now(UTC)
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # At most one write a minute per token, not one per request.
        token.last_used_at = now
        await ApiToken.filter(id=token.id).update(last_used_at=now)
    return token.user, token


async def ensure_admin(admin_token: str | None) -> str | None:
    """Start-up: make sure an admin can sign in.

    With ``admin_token`` set, an admin whose token is that value exists afterwards. Without
    it, and with no users at all, a new admin is created; its new secret is returned so the
    caller can print it once.
    """
    if admin_token:
        token_hash = hash_secret(admin_token)
        if await ApiToken.filter(secret_hash=token_hash).exists():
            return None
        async with change(None) as unit:
            admin = await User.filter(role=Role.ADMIN, is_active=True).order_by("id").first()
            if admin is None:
                admin = await _create_admin(unit)
            await ApiToken.create(user_id=admin.id, name="CRM_ADMIN_TOKEN", secret_hash=token_hash)
        return None
    if await User.exists():
        return None
    secret = new_secret()
    async with change(None) as unit:
        admin = await _create_admin(unit)
        await ApiToken.create(user_id=admin.id, name="bootstrap", secret_hash=hash_secret(secret))
    return secret


async def _create_admin(unit: Unit) -> User:
    """The start-up admin, created by the system (no actor) in ``unit``."""
    admin = User(name="Administrador", email="admin@crm.local", role=Role.ADMIN)
    admin.search_text = admin.search_document()
    await admin.save()
    await unit.record(AuditAction.CREATED, admin, admin.name)
    return admin


def users_queryset(access: Access, filter: Any, search: str | None) -> QuerySet[User]:
    query = access.rows(User)
    if filter is not None:
        if filter.role is not None:
            query = query.filter(role=filter.role)
        if filter.team_id is not None:
            query = query.filter(team_id=filter_id(filter.team_id, "Team"))
        if filter.is_active is not None:
            query = query.filter(is_active=filter.is_active)
    return searched(query, search)


async def list_users(
    access: Access, filter: Any, search: str | None, order: Ordering, args: PageArgs
) -> Page:
    return await paginate(users_queryset(access, filter, search), order, args)


async def list_teams(access: Access, search: str | None, args: PageArgs) -> Page:
    return await paginate(searched(access.rows(Team), search), TEAM_ORDER, args)


# ---------------------------------------------------------------- who may


def require_admin(access: Access) -> None:
    """Users and teams are managed by admins only (and a token needs `users:write`)."""
    access.require_write(Area.USERS)


# ---------------------------------------------------------------- teams


async def create_team(access: Access, data: Any) -> Team:
    """createTeam; team names are unique, compared without regard to case."""
    viewer = access.user
    require_admin(access)
    problems = Problems()
    name = check.text(problems, "name", data.name, 100, required=True)
    if problems:
        raise Rejected(problems.items)
    if await Team.filter(name__iexact=name).exists():
        raise _duplicate_name(name)
    try:
        async with change(viewer) as unit:
            team = Team(name=name)
            team.search_text = team.search_document()
            await team.save()
            await unit.record(
                AuditAction.CREATED, team, team.name,
                {"name": {"from": None, "to": team.name}},
            )  # fmt: skip
    except IntegrityError:
        raise _duplicate_name(name) from None  # another request took the name a moment ago
    return team


def _duplicate_name(name: str) -> Rejected:
    return Rejected.one(ProblemCode.DUPLICATE_NAME, "name", f"A team named '{name}' exists.")


# ---------------------------------------------------------------- users


async def create_user(access: Access, data: Any) -> User:
    """createUser; the email is stored lower-cased and unique among users."""
    viewer = access.user
    require_admin(access)
    problems = Problems()
    name = check.text(problems, "name", data.name, 150, required=True)
    email = check.email(problems, "email", data.email, required=True)
    if data.role is None:
        problems.add(ProblemCode.REQUIRED, "role", "A user needs a role.")
    team_id = await _team_of(problems, data.team_id)
    if problems:
        raise Rejected(problems.items)
    email = email.lower()
    await _guard_email(email, None)

    async def write() -> User:
        async with change(viewer) as unit:
            user = User(name=name, email=email, role=data.role, team_id=team_id)
            user.search_text = user.search_document()
            await user.save()
            await unit.record(
                AuditAction.CREATED, user, user.name,
                audit.diff({}, audit.snapshot(user, USER_AUDITED)),
            )  # fmt: skip
            return user

    return await _unique_email(write, email)


async def update_user(access: Access, data: Any) -> User:
    """updateUser; only the fields sent change."""
    viewer = access.user
    require_admin(access)
    problems = Problems()
    pk = expect_id(data.id, "User", "id", problems)
    user = await User.get_or_none(id=pk) if pk is not None else None
    if pk is not None and user is None:
        problems.add(ProblemCode.NOT_FOUND, "id", "No user has this id.")
    values: dict[str, Any] = {}
    if check.given(data.name):
        values["name"] = check.text(problems, "name", data.name, 150, required=True)
    if check.given(data.email):
        email = check.email(problems, "email", data.email, required=True)
        values["email"] = email.lower() if email else None
    for name, path in (("role", "role"), ("is_active", "isActive")):
        value = getattr(data, name)
        if check.given(value):
            if value is None:
                problems.add(ProblemCode.REQUIRED, path, "This value is required.")
            values[name] = value
    if check.given(data.team_id):
        values["team_id"] = await _team_of(problems, data.team_id)
    if problems:
        raise Rejected(problems.items)
    if "email" in values:
        await _guard_email(values["email"], user.id)
    await _guard_last_admin(user, values)

    async def write() -> User:
        async with change(viewer) as unit:
            before = audit.snapshot(user, USER_AUDITED)
            for name, value in values.items():
                setattr(user, name, value)
            user.search_text = user.search_document()
            await user.save_changes(*values, "search_text")
            changes = audit.diff(before, audit.snapshot(user, USER_AUDITED))
            await unit.record(AuditAction.UPDATED, user, user.name, changes)
            return user

    return await _unique_email(write, values.get("email", ""))


async def _guard_last_admin(user: User, values: dict[str, Any]) -> None:
    """Demoting or deactivating the only active admin would lock everyone out for good."""
    stays_admin = values.get("role", user.role) == Role.ADMIN
    stays_active = values.get("is_active", user.is_active)
    if user.role != Role.ADMIN or not user.is_active or (stays_admin and stays_active):
        return
    others = User.filter(role=Role.ADMIN, is_active=True).exclude(id=user.id)
    if not await others.exists():
        path = "role" if not stays_admin else "isActive"
        raise Rejected.one(ProblemCode.LAST_ADMIN, path, f"{user.name} is the only admin left.")


async def _team_of(problems: Problems, gid: Any) -> int | None:
    """The key of an existing team, or None (no team, or a problem recorded)."""
    if gid is None or not check.given(gid):
        return None
    pk = expect_id(gid, "Team", "teamId", problems)
    if pk is not None and not await Team.filter(id=pk).exists():
        problems.add(ProblemCode.NOT_FOUND, "teamId", "No team has this id.")
        return None
    return pk


async def _guard_email(email: str, exclude_user: int | None) -> None:
    """A user's email is unique, compared without regard to case."""
    same = User.filter(email__iexact=email)
    if exclude_user is not None:
        same = same.exclude(id=exclude_user)
    if await same.exists():
        raise Rejected.one(
            ProblemCode.DUPLICATE_EMAIL, "email", f"Another user already signs in as {email}."
        )


async def _unique_email(action, email: str):
    try:
        return await action()
    except IntegrityError:
        # The unique index fired: another request took the email between check and write.
        raise Rejected.one(
            ProblemCode.DUPLICATE_EMAIL, "email", f"Another user already signs in as {email}."
        ) from None


# ---------------------------------------------------------------- API tokens


async def create_api_token(
    access: Access, data: Any, known_fields: frozenset[str]
) -> tuple[ApiToken, str]:
    """createApiToken: the new token and its secret, which is stored only as a hash.

    Anyone may make tokens for themselves; only an admin for others. A restricted token
    cannot mint a token with more rights than it has itself. ``known_fields`` are the
    ``Type.field`` coordinates an allowlist may name.
    """
    viewer = access.user
    problems = Problems()
    user = viewer
    if data.user_id is not None:
        pk = expect_id(data.user_id, "User", "userId", problems)
        if pk is not None and pk != viewer.id:
            require_admin(access)
            user = await User.get_or_none(id=pk)
            if user is None:
                problems.add(ProblemCode.NOT_FOUND, "userId", "No user has this id.")
            elif not user.is_active:
                problems.add(ProblemCode.INACTIVE, "userId", "The user may not sign in.")
    name = check.text(problems, "name", data.name, 100, required=True)
    scopes = _check_scopes(problems, data.scopes)
    allowed_fields = _check_allowlist(problems, data.allowed_fields, known_fields)
    expires_at = data.expires_at
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)  # the wire speaks UTC
    if expires_at is not None and expires_at <= datetime.now(UTC):
        problems.add(ProblemCode.INVALID_DATE, "expiresAt", "The expiry must be in the future.")
    if problems:
        raise Rejected(problems.items)
    if access.scopes and not set(scopes or SCOPES) <= access.scopes:
        raise Forbidden("A scoped token may only create tokens with a subset of its scopes.")
    if access.allowed_fields is not None and not (
        allowed_fields is not None and set(allowed_fields) <= access.allowed_fields
    ):
        raise Forbidden("A token with a field allowlist may only create narrower ones.")
    secret = new_secret()
    async with change(viewer) as unit:
        token = await ApiToken.create(
            user_id=user.id,
            name=name,
            secret_hash=hash_secret(secret),
            scopes=scopes,
            allowed_fields=allowed_fields,
            expires_at=expires_at,
        )
        await unit.record(
            AuditAction.CREATED, token, token.name,
            audit.diff({}, audit.snapshot(token, TOKEN_AUDITED)),
        )  # fmt: skip
    return token, secret


def _check_scopes(problems: Problems, scopes: list[str] | None) -> list[str]:
    """Each scope is ``<area>:read`` or ``<area>:write``; duplicates collapse."""
    cleaned: list[str] = []
    for index, scope in enumerate(scopes or []):
        reason = check.bad_characters(scope)
        if reason is not None:
            problems.add(ProblemCode.INVALID_CHARACTERS, ("scopes", str(index)), reason)
        elif scope not in SCOPES:
            problems.add(
                ProblemCode.INVALID_FORMAT,
                ("scopes", str(index)),
                f"'{scope[:40]}' is not a scope: use <area>:read or <area>:write with area "
                f"one of {', '.join(Area)}.",
            )
        elif scope not in cleaned:
            cleaned.append(scope)
    return cleaned


MAX_ALLOWED_FIELDS = 200


def _check_allowlist(
    problems: Problems, allowed: list[str] | None, known: frozenset[str]
) -> list[str] | None:
    """Each entry names a field of a node type, ``Contact.fullName``; duplicates collapse."""
    if allowed is None:
        return None
    if len(allowed) > MAX_ALLOWED_FIELDS:
        problems.add(
            ProblemCode.OUT_OF_RANGE, "allowedFields", f"At most {MAX_ALLOWED_FIELDS} fields."
        )
        return None
    cleaned: list[str] = []
    for index, coordinate in enumerate(allowed):
        reason = check.bad_characters(coordinate)
        if reason is not None:
            problems.add(ProblemCode.INVALID_CHARACTERS, ("allowedFields", str(index)), reason)
        elif coordinate not in known:
            problems.add(
                ProblemCode.INVALID_FORMAT,
                ("allowedFields", str(index)),
                f"'{coordinate[:80]}' is not a field of a node type: write it as "
                "Type.field, e.g. Contact.fullName.",
            )
        elif coordinate not in cleaned:
            cleaned.append(coordinate)
    return cleaned


async def revoke_api_token(access: Access, gid: str) -> ApiToken:
    """revokeApiToken: the token stops working on the next request. Own tokens, or admin."""
    viewer = access.user
    problems = Problems()
    pk = expect_id(gid, "ApiToken", "id", problems)
    token = await ApiToken.get_or_none(id=pk) if pk is not None else None
    if pk is not None and token is None:
        problems.add(ProblemCode.NOT_FOUND, "id", "No API token has this id.")
    if problems:
        raise Rejected(problems.items)
    if token.user_id != viewer.id:
        require_admin(access)
    now = datetime.now(UTC)
    async with change(viewer) as unit:
        # Conditional update: two concurrent revocations cannot both succeed.
        revoked = await ApiToken.filter(id=token.id, revoked_at=None).update(revoked_at=now)
        if not revoked:
            raise Rejected.one(ProblemCode.ALREADY_IN_STATE, "id", "The token is already revoked.")
        token.revoked_at = now
        await unit.record(
            AuditAction.DEACTIVATED, token, token.name,
            {"revokedAt": {"from": None, "to": now.isoformat()}},
        )  # fmt: skip
    return token
