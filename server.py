"""HTTP entry point: ``python server.py`` serves the API (flags in shared/API.md)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from tortoise import connections

from metrics import MetricsMiddleware, metrics
from models.db import close_database, init_database
from resolvers.context import RequestContext
from resolvers.errors import RequestError
from resolvers.export import contact_csv, parse_parameters
from resolvers.users import ensure_admin, user_for_token
from schema import schema
from settings import Settings, load_settings

log = logging.getLogger("crm.server")


GRAPHQL_RESPONSE = "application/graphql-response+json"


class GraphQLApp(GraphQL):
    """Strawberry's ASGI app, with a per-request context built from the bearer token, and
    the GraphQL-over-HTTP media type for clients that accept it."""

    async def run(self, request: Request | WebSocket, **kwargs: Any) -> Any:
        response = await super().run(request, **kwargs)
        if isinstance(request, Request) and GRAPHQL_RESPONSE in request.headers.get("accept", ""):
            return as_graphql_response(response)
        return response

    async def get_context(self, request: Request | WebSocket, response: Any) -> RequestContext:
        header = request.headers.get("authorization")
        if isinstance(request, WebSocket) and header is None:
            return RequestContext()  # the token arrives later, in connection_init
        return await context_for(header)

    async def on_ws_connect(self, context: RequestContext) -> None:
        """Sign in a WebSocket from ``{"Authorization": "Bearer …"}`` in connection_init."""
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        if header is not None:
            signed_in = await context_for(str(header))
            if signed_in.user is None:
                raise ConnectionRejectionError({"message": signed_in.auth_error})
            context.user, context.token = signed_in.user, signed_in.token
        return None


def as_graphql_response(response: Response) -> Response:
    """``application/graphql-response+json``: a request that never reached execution
    (unparsable, invalid, bad variables) is a 400 without a ``data`` entry."""
    if response.media_type != "application/json" or response.status_code != 200:
        return response
    body = bytes(response.body)
    if b'"errors"' in body:
        result = json.loads(body)
        if result.get("data") is None and all("path" not in e for e in result["errors"]):
            result.pop("data", None)
            body = json.dumps(result).encode()
            response.status_code = 400
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    headers["content-type"] = GRAPHQL_RESPONSE + "; charset=utf-8"
    return Response(body, status_code=response.status_code, headers=headers)


async def context_for(authorization: str | None) -> RequestContext:
    """Who is asking. A missing or bad token leaves the context anonymous."""
    if not authorization:
        return RequestContext()
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return RequestContext(auth_error="Use `Authorization: Bearer <token>`.")
    found = await user_for_token(secret.strip())
    if found is None:
        return RequestContext(auth_error="The token is unknown, expired or revoked.")
    user, token = found
    return RequestContext(user=user, token=token)


def coded_error(status: int, message: str, code: str, **extensions: Any) -> JSONResponse:
    """A request refused outside GraphQL execution, in the shape GraphQL errors have."""
    body = {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    return JSONResponse(body, status_code=status)


async def export_contacts(request: Request) -> Response:
    """GET /export/contacts.csv: the contacts list (its filters and search as query
    parameters) as CSV, streamed; refusals come before the first byte, as JSON."""
    context = await context_for(request.headers.get("authorization"))
    try:
        contact_filter, search = parse_parameters(request.query_params)
        chunks = contact_csv(context.access, contact_filter, search)
    except RequestError as error:
        status = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403}.get(error.code, 400)
        extensions = {"argument": error.argument} if error.argument else {}
        return coded_error(status, error.message, error.code, **extensions)
    headers = {"Content-Disposition": 'attachment; filename="contacts.csv"'}
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8", headers=headers)


async def healthz(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def readyz(request: Request) -> JSONResponse:
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception:  # any failure means: not ready
        log.exception("readiness check failed")
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


async def prepare_database(settings: Settings) -> None:
    """Create or complete the schema, make sure an admin exists, and fill demo data."""
    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    await init_database(settings.tortoise_db_url())
    secret = await ensure_admin(settings.admin_token)
    if secret is not None:
        print(
            "Created an admin user. Its API token, shown only this once:\n"
            f"    {secret}\n"
            "Send it as `Authorization: Bearer <token>`.",
            flush=True,
        )
    if settings.demo:
        from resolvers.demo import fill_demo_data  # only loaded when asked for

        summary = await fill_demo_data()
        if summary is not None and summary.accounts:
            print(f"Demo data: {summary}", flush=True)


def build_app(settings: Settings, *, prepare: bool = True) -> Starlette:
    """The ASGI application. With ``prepare``, start-up also runs ``prepare_database``."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if prepare:
            await prepare_database(settings)
        else:
            await init_database(settings.tortoise_db_url())
        try:
            yield
        finally:
            await close_database()

    graphql = GraphQLApp(schema, graphql_ide="graphiql", allow_queries_via_get=True)
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/export/contacts.csv", export_contacts, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(MetricsMiddleware)])


def create_app() -> Starlette:
    """Factory for uvicorn workers: settings from the environment, database already prepared."""
    return build_app(load_settings([]), prepare=False)


def main(argv: Sequence[str]) -> None:
    settings = load_settings(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if settings.workers == 1:
        uvicorn.run(build_app(settings), host=settings.host, port=settings.port)
        return
    asyncio.run(_prepare_once(settings))
    # Workers rebuild their settings from the environment.
    os.environ["DATABASE_URL"] = settings.database_url
    uvicorn.run(
        "server:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
    )


async def _prepare_once(settings: Settings) -> None:
    await prepare_database(settings)
    await close_database()


if __name__ == "__main__":
    main(sys.argv[1:])
