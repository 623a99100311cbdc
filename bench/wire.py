"""What a PostgreSQL client really sends: a TCP relay in front of the server that notes every
message of the frontend protocol, whichever driver or pool sends it.

``async with WireRecorder.in_front_of(url) as wire`` gives ``wire.url``, the same database
through the relay; ``wire.statements`` are the SQL texts run (each simple query, and each
execution of a prepared statement, in order) and ``wire.round_trips`` how many times a
client waited for the server (one per simple query, one per ``Flush`` or ``Sync`` of the
extended protocol); ``wire.prepares`` how many statements were prepared.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

# First-message codes that are not a startup: the relay answers "no encryption" itself, so
# what follows stays readable.
_ENCRYPTION_REQUESTS = {80877103, 80877104}  # SSLRequest, GSSENCRequest
# Frontend messages after which the client waits for the server (Flush: asyncpg reads a
# statement's description before it binds it).
_SIMPLE_QUERY, _PARSE, _BIND, _FLUSH, _SYNC = b"Q", b"P", b"B", b"H", b"S"


@dataclass
class WireRecorder:
    """A relay to ``host``:``port``, listening on ``url``'s port; see the module's doc."""

    host: str
    port: int
    url: str = ""
    statements: list[str] = field(default_factory=list)
    round_trips: int = 0
    prepares: int = 0  # statements new to their connection (asyncpg caches them per connection)

    @classmethod
    @asynccontextmanager
    async def in_front_of(cls, url: str) -> AsyncIterator[WireRecorder]:
        parts = urlsplit(url)
        recorder = cls(parts.hostname or "127.0.0.1", parts.port or 5432)
        server = await asyncio.start_server(recorder._relay, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        user = f"{parts.username}@" if parts.username else ""
        recorder.url = urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))
        try:
            async with server:
                yield recorder
        finally:
            server.close()

    def clear(self) -> None:
        self.statements.clear()
        self.round_trips = self.prepares = 0

    def _note(self, kind: bytes, body: bytes, prepared: dict[bytes, str]) -> None:
        """Note one message; ``prepared``: the connection's statements by name."""
        if kind == _SIMPLE_QUERY:
            self.statements.append(body.split(b"\0", 1)[0].decode())
            self.round_trips += 1
        elif kind == _PARSE:  # the statement's name, then its text
            name, text, _ = body.split(b"\0", 2)
            prepared[name] = text.decode()
            self.prepares += 1
        elif kind == _BIND:  # the portal's name, then the statement's: one execution
            statement = body.split(b"\0", 2)[1]
            self.statements.append(prepared.get(statement, "?"))
        elif kind in (_FLUSH, _SYNC):
            self.round_trips += 1

    async def _relay(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        server, to_server = await asyncio.open_connection(self.host, self.port)
        try:
            await self._startup(client, to_client, to_server)
            await asyncio.gather(self._from_client(client, to_server), _copy(server, to_client))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            for writer in (to_server, to_client):
                writer.close()
                with suppress(ConnectionError):
                    await writer.wait_closed()

    async def _startup(
        self,
        client: asyncio.StreamReader,
        to_client: asyncio.StreamWriter,
        to_server: asyncio.StreamWriter,
    ) -> None:
        while True:  # untyped messages: length, code, rest
            head = await client.readexactly(8)
            length, code = struct.unpack("!ii", head)
            rest = await client.readexactly(length - 8)
            if code in _ENCRYPTION_REQUESTS:
                to_client.write(b"N")
                await to_client.drain()
                continue
            to_server.write(head + rest)  # the startup (or a cancel request)
            await to_server.drain()
            return

    async def _from_client(
        self, client: asyncio.StreamReader, to_server: asyncio.StreamWriter
    ) -> None:
        prepared: dict[bytes, str] = {}
        while True:
            try:
                head = await client.readexactly(5)
            except asyncio.IncompleteReadError:
                break
            (length,) = struct.unpack("!i", head[1:])
            body = await client.readexactly(length - 4)
            self._note(head[:1], body, prepared)
            to_server.write(head + body)
            await to_server.drain()
        to_server.close()


async def _copy(source: asyncio.StreamReader, to: asyncio.StreamWriter) -> None:
    while data := await source.read(65536):
        to.write(data)
        await to.drain()
    to.close()
