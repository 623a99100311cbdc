"""GraphiQL in a real browser with no network beyond loopback.

Starts ``server.py`` on a free port with a fresh SQLite database and a known admin token,
adds one contact over HTTP, opens ``/graphql`` in headless Chromium (driven through the
DevTools protocol over ``websockets``) and checks, as a person would see it:

- GraphiQL's editor shows the default tab: our Spanish example operations, the headers
  tab holds the ``Bearer <token>`` placeholder, the explorer plugin is in the sidebar;
- the page fetched the schema from the live server (refused without a token); the token
  typed into the headers tab and ▶ run the first operation, the contact list: the result
  pane shows that contact;
- every request the page made went to 127.0.0.1; no script error, no CSP violation.

Usage: ``python tools/graphiql_browser.py [--chromium PATH] [--screenshot FILE.png]``.
Exits non-zero, saying why, on any failure (a missing browser included).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import websockets

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60.0  # seconds for the whole browser session
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio",
    "--window-size=1400,900",
    # No name resolves but the loopback address: a CDN URL would fail, not load.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]  # fmt: skip
LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}
CONTACT = ("José", "Ñahui Condori")


class Failure(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json",
                                                 "Authorization": f"Bearer {token}"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        result = json.load(response)
    if result.get("errors"):
        raise Failure(f"seeding failed: {result['errors']}")
    return result["data"]


def seed(url: str, token: str) -> None:
    """One account and one contact, so the default query has something to show."""
    account = post(url, token, "mutation($i: CreateAccountInput!) { createAccount(input: $i)"
                   " { account { id } errors { message } } }",
                   {"i": {"name": "Ferretería Andina"}})["createAccount"]  # fmt: skip
    first, last = CONTACT
    contact = post(url, token, "mutation($i: CreateContactInput!) { createContact(input: $i)"
                   " { contact { id } errors { message } } }",
                   {"i": {"accountId": account["account"]["id"], "firstName": first,
                          "lastName": last}})["createContact"]  # fmt: skip
    if account["errors"] or contact["errors"] or not contact["contact"]:
        raise Failure(f"seeding failed: {account} {contact}")


class Page:
    """One browser tab over the DevTools protocol: commands, and the events it sent."""

    def __init__(self, socket_: Any) -> None:
        self.socket = socket_
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.requests: list[str] = []
        self.problems: list[str] = []
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            if "id" in message:
                self.pending.pop(message["id"]).set_result(message)
                continue
            method, params = message.get("method"), message.get("params", {})
            if method == "Network.requestWillBeSent":
                self.requests.append(params["request"]["url"])
            elif method == "Runtime.exceptionThrown":
                self.problems.append(f"exception: {params['exceptionDetails']}")
            elif method == "Runtime.consoleAPICalled" and params["type"] == "error":
                self.problems.append(f"console.error: {params['args']}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                if not entry.get("url", "").endswith("/favicon.ico"):
                    self.problems.append(f"{entry['source']}: {entry['text']}")

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        self.pending[number] = asyncio.get_running_loop().create_future()
        await self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        reply = await self.pending[number]
        if "error" in reply:
            raise Failure(f"{method}: {reply['error']}")
        return reply["result"]

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                                 awaitPromise=True)  # fmt: skip
        if "exceptionDetails" in result:
            raise Failure(f"evaluating {expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, what: str, seconds: float = 30.0) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.problems:  # a broken page fails now, not at the timeout
                raise Failure(f"waiting for {what}, the page reported: {self.problems}")
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.2)
        raise Failure(f"timed out waiting for {what}; the page reported: {self.problems}")

    async def click(self, selector: str) -> None:
        """A real mouse click at the middle of the element (as Radix menus need)."""
        box = await self.evaluate(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1],
                            button="left", clickCount=1)  # fmt: skip


# The value of the first CodeMirror editor under `root` whose text contains `needle`.
EDITOR_TEXT = """(() => {{
  for (const el of document.querySelectorAll({root} + " .CodeMirror")) {{
    const value = el.CodeMirror.getValue();
    if (value.includes({needle})) return value;
  }}
  return null;
}})()"""
FIRST_OPERATION = "[role=menuitem]:first-child"
SET_HEADERS = """(() => {{
  for (const el of document.querySelectorAll(".graphiql-editor-tool .CodeMirror")) {{
    if (el.CodeMirror.getValue().includes("Authorization")) {{
      el.CodeMirror.setValue({value});
      return true;
    }}
  }}
  return false;
}})()"""


def editor_text(root: str, needle: str) -> str:
    return EDITOR_TEXT.format(root=json.dumps(root), needle=json.dumps(needle))


async def drive(page: Page, url: str, token: str, screenshot: Path | None) -> str:
    for domain in ("Network", "Runtime", "Log", "Page"):
        await page.send(f"{domain}.enable")
    await page.send("Page.navigate", url=url)
    query = await page.wait_for(editor_text(".graphiql-query-editor", "query ListaDeContactos"),
                                "GraphiQL's query editor with the example operations")  # fmt: skip
    for name in ("ListaDeContactos", "FichaDeContacto", "BuscarJose", "CrearContacto"):
        if name not in query:
            raise Failure(f"the default tab lacks the example operation {name}")
    if not await page.evaluate(
        "!!document.querySelector('.graphiql-sidebar [aria-label*=\"GraphiQL Explorer\"]')"
    ):
        raise Failure("the explorer plugin is missing from the sidebar")
    # Without a token the schema's introspection is refused: the page asked the live server.
    await page.wait_for(editor_text(".graphiql-response", "UNAUTHENTICATED"),
                        "the refused introspection in the result pane")  # fmt: skip
    headers = await page.wait_for(editor_text(".graphiql-editor-tool", "Authorization"),
                                  "the headers tab")  # fmt: skip
    if json.loads(headers) != {"Authorization": "Bearer <token>"}:
        raise Failure(f"the headers tab holds {headers!r}")
    value = json.dumps({"Authorization": f"Bearer {token}"})
    if not await page.evaluate(SET_HEADERS.format(value=json.dumps(value))):
        raise Failure("could not type the token into the headers tab")
    # ▶ runs the operation under the cursor or, when GraphiQL has not picked one, opens a
    # menu of the operations: then pick the first, as a person would.
    await page.click(".graphiql-execute-button")
    result_shown = editor_text(".graphiql-response", '"contacts"')
    menu_shown = f"document.querySelector({json.dumps(FIRST_OPERATION)})"
    state = await page.wait_for(f"({result_shown}) ? 'result' : {menu_shown} ? 'menu' : null",
                                "the query's result or the menu of operations")  # fmt: skip
    if state == "menu":
        await page.click(FIRST_OPERATION)
    result = await page.wait_for(result_shown, "the query's result")
    response = json.loads(result)
    if response.get("errors") or not response.get("data"):
        raise Failure(f"the query failed in the browser: {result}")
    if "pageInfo" not in response["data"]["contacts"]:
        raise Failure(f"▶ ran another operation than ListaDeContactos: {result}")
    names = [node["fullName"] for node in response["data"]["contacts"]["nodes"]]
    if names != [" ".join(CONTACT)]:
        raise Failure(f"the result pane shows {names}, not the seeded contact")
    if screenshot is not None:
        shot = await page.send("Page.captureScreenshot", format="png")
        screenshot.write_bytes(base64.b64decode(shot["data"]))
    await asyncio.sleep(0.5)  # late requests and errors
    strangers = [r for r in page.requests if urlsplit(r).hostname not in LOOPBACK
                 and not r.startswith("data:")]  # fmt: skip
    if strangers:
        raise Failure(f"the page asked for non-loopback URLs: {strangers}")
    if page.problems:
        raise Failure("the page reported errors:\n  " + "\n  ".join(page.problems))
    return f"{len(page.requests)} requests, all to loopback; result pane: {names}"


async def browse(chromium: str, url: str, token: str, screenshot: Path | None) -> str:
    profile = tempfile.mkdtemp(prefix="graphiql-chromium-")
    browser = subprocess.Popen(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if browser.poll() is not None or time.monotonic() > deadline:
                raise Failure(f"Chromium did not start: {browser.stderr.read().decode()[-2000:]}")
            await asyncio.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as listed:
            target = next(t for t in json.load(listed) if t["type"] == "page")
        async with websockets.connect(target["webSocketDebuggerUrl"], max_size=None) as ws:
            page = Page(ws)
            try:
                return await asyncio.wait_for(drive(page, url, token, screenshot), TIMEOUT)
            finally:
                page.reader.cancel()
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            browser.kill()
        shutil.rmtree(profile, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    if not Path(args.chromium).exists():
        print(f"FAIL: no Chromium at {args.chromium}", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="graphiql-browser-"))
    token = f"browser-{secrets.token_hex(16)}"
    port = free_port()
    log = (work / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "server.py", "--port", str(port),
         "--database-url", f"sqlite://{work / 'browser.sqlite3'}"],
        cwd=ROOT, env={**os.environ, "CRM_ADMIN_TOKEN": token}, stdout=log, stderr=log,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/readyz", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    tail = (work / "server.log").read_text()[-2000:]
                    raise Failure(f"the server did not start: {tail}") from None
                time.sleep(0.1)
        seed(f"{base}/graphql", token)
        print("PASS:", asyncio.run(browse(args.chromium, f"{base}/graphql", token,
                                          args.screenshot)))  # fmt: skip
        return 0
    except Failure as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        return 1
    finally:
        server.terminate()
        server.wait(20)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
