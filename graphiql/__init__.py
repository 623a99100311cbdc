"""The GraphiQL page, served whole by this server: no CDN, so it works on an air-gapped
network. ``vendor/`` holds React, GraphiQL and its explorer plugin as npm publishes them
(``tools/vendor_graphiql.sh`` refreshes them); the page, its script and its examples are ours.

Assets are served at ``/graphiql/<name>?v=<content hash>``: a URL names one content, so
browsers may keep it for a year; any other ``v`` is served uncached.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from string import Template

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

HERE = Path(__file__).resolve().parent
PREFIX = "/graphiql/"
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Everything from this server; fonts and icons are data: URLs inside GraphiQL's CSS. Styles
# may be inline because GraphiQL's components (Radix) add <style> elements at run time.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
))  # fmt: skip
EXAMPLE_HEADERS = '{"Authorization": "Bearer <token>"}'
EXAMPLE_VARIABLES = '{\n  "id": "<id de un contacto>",\n  "accountId": "<id de una cuenta>"\n}'


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    digest: str  # the first 16 hex digits of its SHA-256

    @classmethod
    def read(cls, path: Path) -> Asset:
        body = path.read_bytes()
        return cls(body, CONTENT_TYPES[path.suffix], hashlib.sha256(body).hexdigest()[:16])


def _assets() -> dict[str, Asset]:
    files = [HERE / "crm-graphiql.js", HERE / "crm-graphiql.css"]
    files += sorted(p for p in (HERE / "vendor").iterdir() if p.suffix in CONTENT_TYPES)
    return {path.name: Asset.read(path) for path in files}


ASSETS = _assets()


def asset_url(name: str) -> str:
    return f"{PREFIX}{name}?v={ASSETS[name].digest}"


def _page() -> str:
    settings = {
        "url": "/graphql",
        "query": (HERE / "examples.graphql").read_text(encoding="utf-8"),
        "variables": EXAMPLE_VARIABLES,
        "headers": EXAMPLE_HEADERS,
    }
    # Inside <script>, "<" could close the element: JSON may spell it \u003c.
    encoded = json.dumps(settings, ensure_ascii=False).replace("<", "\\u003c")
    return Template((HERE / "page.html").read_text(encoding="utf-8")).substitute(
        settings=encoded,
        graphiql_css=asset_url("graphiql.min.css"),
        explorer_css=asset_url("plugin-explorer.css"),
        page_css=asset_url("crm-graphiql.css"),
        react_js=asset_url("react.production.min.js"),
        react_dom_js=asset_url("react-dom.production.min.js"),
        graphiql_js=asset_url("graphiql.min.js"),
        explorer_js=asset_url("plugin-explorer.umd.js"),
        page_js=asset_url("crm-graphiql.js"),
    )


PAGE = _page()
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def page_response() -> HTMLResponse:
    """The GraphiQL page: always revalidated, so a new release's asset URLs reach browsers."""
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": CONTENT_SECURITY_POLICY,
               "Cache-Control": "no-cache"}  # fmt: skip
    return HTMLResponse(PAGE, headers=headers)


async def asset(request: Request) -> Response:
    """``GET /graphiql/<name>``: one of the page's scripts or styles."""
    found = ASSETS.get(request.path_params["name"])
    if found is None:
        return PlainTextResponse("Not found", status_code=404)
    etag = f'"{found.digest}"'
    pinned = request.query_params.get("v") == found.digest
    headers = {**SECURITY_HEADERS, "ETag": etag,
               "Cache-Control": "public, max-age=31536000, immutable" if pinned
               else "no-cache"}  # fmt: skip
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=found.content_type, headers=headers)
