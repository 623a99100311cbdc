"""The GraphiQL page works without internet: the page and every asset it loads come from
this server, with their content types, cache headers and a strict Content-Security-Policy,
and its example operations run. ``tools/graphiql_browser.py`` (run by ``.ci/run``) opens
it in headless Chromium with no network beyond loopback."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from graphql import parse, validate

import graphiql
from schema import schema
from tests.conftest import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BROWSER = {"Accept": "text/html,application/xhtml+xml"}
URL = re.compile(r"""https?://[^\s"'`()<>\\]*""")
CDN_HOSTS = ("unpkg.com", "jsdelivr.net", "cdnjs.cloudflare.com", "esm.sh", "skypack.dev",
             "jspm.io", "googleapis.com", "gstatic.com", "cloudflare", "cdn.")  # fmt: skip
# The absolute URLs the vendored bundles hold as text, never loaded: XML namespaces, links
# in messages and licences. A refresh that brings another one fails until it is read here.
INERT_URLS = {
    "http://",  # CodeMirror's test for a link's scheme
    "http://www.w3.org/1998/Math/MathML",
    "http://www.w3.org/1999/xhtml",
    "http://www.w3.org/1999/xlink",
    "http://www.w3.org/2000/svg",
    "http://www.w3.org/XML/1998/namespace",
    "https://codemirror.net/5/doc/manual.html#keymaps",
    "https://commonmark.org/",
    "https://en.wikipedia.org/wiki/IEEE_floating_point",
    "https://github.com/OneGraph/graphiql-explorer",
    "https://github.com/graphql/graphiql",
    "https://github.com/graphql/graphiql/blob/master/examples/graphiql-cdn/index.html#L49",
    "https://github.com/jonschlinkert",
    "https://github.com/jonschlinkert/is-primitive",
    "https://github.com/jonschlinkert/isobject",
    "https://github.com/jonschlinkert/set-value",
    "https://radix-ui.com/primitives/docs/components/${t.docsSlug}",
    "https://reactjs.org/docs/error-decoder.html?invariant=",
    "https://www.onegraph.com",
}


class Links(HTMLParser):
    """The URLs a page makes the browser load, and its JSON settings block."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.settings = ""
        self._in_settings = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if values.get(name):
                self.urls.append(values[name] or "")
        self._in_settings = values.get("id") == "graphiql-settings"

    def handle_data(self, data: str) -> None:
        if self._in_settings:
            self.settings += data

    def handle_endtag(self, tag: str) -> None:
        self._in_settings = False


async def page(client) -> tuple[str, Links]:
    response = await client.get("/graphql", headers=BROWSER)
    assert response.status_code == 200
    links = Links()
    links.feed(response.text)
    return response.text, links


async def test_the_page_has_a_strict_policy_and_is_revalidated(client):
    response = await client.get("/graphql", headers=BROWSER)
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no inline script, no eval, no other origin
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert all("http" not in value and "*" not in value for value in policy.values())


async def test_the_page_names_no_other_server(client):
    html, links = await page(client)
    assert not URL.findall(html), URL.findall(html)
    assert not [host for host in CDN_HOSTS if host in html]
    assert links.urls, "the page loads nothing?"
    for url in links.urls:
        assert url.startswith(graphiql.PREFIX) or url.startswith("data:"), url


async def test_every_asset_is_served_here_typed_cached_and_offline(client):
    _, links = await page(client)
    assets = [url for url in links.urls if url.startswith(graphiql.PREFIX)]
    assert {url.split("?")[0].removeprefix(graphiql.PREFIX) for url in assets} == set(
        graphiql.ASSETS
    )
    for url in assets:
        response = await client.get(url)
        assert response.status_code == 200, url
        kind = "text/javascript" if url.split("?")[0].endswith(".js") else "text/css"
        assert response.headers["content-type"] == f"{kind}; charset=utf-8", url
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"
        text = response.text
        assert not [host for host in CDN_HOSTS if host in text], url
        assert set(URL.findall(text)) <= INERT_URLS, (url, set(URL.findall(text)) - INERT_URLS)
        assert "sourceMappingURL" not in text, url  # no map is shipped: devtools would ask


async def test_an_asset_url_names_one_content(client):
    name = "graphiql.min.js"
    current = await client.get(graphiql.asset_url(name))
    etag = current.headers["etag"]
    again = await client.get(graphiql.asset_url(name), headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.content
    # Another version's URL (an old page in a cache) gets today's file, not kept for a year.
    stale = await client.get(f"{graphiql.PREFIX}{name}?v=0000000000000000")
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"
    for missing in ("LICENSE.graphiql", "VERSIONS", "..%2F__init__.py", "nothing.js"):
        assert (await client.get(graphiql.PREFIX + missing)).status_code == 404, missing


async def test_the_default_tab_holds_the_spanish_examples_and_the_token_header(client):
    _, links = await page(client)
    settings = json.loads(links.settings)
    assert settings["url"] == "/graphql"
    assert json.loads(settings["headers"]) == {"Authorization": "Bearer <token>"}
    document = parse(settings["query"])
    names = [operation.name.value for operation in document.definitions]
    assert names == ["ListaDeContactos", "FichaDeContacto", "BuscarJose", "CrearContacto"]
    assert 'search: "jose"' in settings["query"] and "pestaña «Headers»" in settings["query"]
    assert validate(schema._schema, document) == []
    script = (await client.get(graphiql.asset_url("crm-graphiql.js"))).text
    assert "isHeadersEditorEnabled: true" in script
    assert "defaultTabs" in script and "settings.headers" in script


async def test_every_example_runs(client):
    _, links = await page(client)
    settings = json.loads(links.settings)
    query = settings["query"]

    async def run(name: str, variables: dict | None = None) -> dict:
        body = {"query": query, "operationName": name, "variables": variables or {}}
        result = (await client.post("/graphql", json=body, headers=AUTH)).json()
        assert "errors" not in result, (name, result)
        return result["data"]

    account = await client.post("/graphql", headers=AUTH, json={
        "query": 'mutation { createAccount(input: {name: "Bodega Santa Rosa"}) '
                 "{ account { id } } }"})  # fmt: skip
    account_id = account.json()["data"]["createAccount"]["account"]["id"]
    created = (await run("CrearContacto", {"accountId": account_id}))["createContact"]
    assert created["errors"] == [] and created["contact"]["fullName"] == "María Quispe Huamán"
    card = await run("FichaDeContacto", {"id": created["contact"]["id"]})
    assert card["node"]["account"] == {"name": "Bodega Santa Rosa"}
    listed = await run("ListaDeContactos")
    assert created["contact"]["id"] in [node["id"] for node in listed["contacts"]["nodes"]]
    await run("BuscarJose")
