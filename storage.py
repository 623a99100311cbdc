"""Where documents' bytes live, content-addressed by their sha256: a local directory by
default, or an S3-compatible bucket (``--storage-url s3://bucket/prefix``, through obstore).

An upload is written to a temporary file in the directory first (hashed and counted as it
streams in); only a whole, checked file is renamed (or put) under its hash, so a crash
never leaves half a file under a hash. Equal bytes are stored once; a file goes when the
last document using it goes (``resolvers.documents``).

An upload and a deletion of the same bytes may run at once: the deletion has counted no
document using them while the upload's row is not yet committed. Neither step alone can
see the other, so both look again after: the deleter first moves the bytes aside
(``retire``), counts again, and puts them back (``restore``) if a document uses them now;
the uploader keeps its staged copy until its row is committed and then puts the bytes in
place if they are missing (``ensure``). Whichever commits last sees the other's work.

The server sets the storage of every GraphQL operation (``using``); the download route
reads it from the app.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CHUNK_BYTES = 64 * 1024
SNIFF_BYTES = 8192  # what ``filetype`` reads to recognise a type


class Readable(Protocol):
    async def read(self, size: int = -1) -> bytes: ...


@dataclass(slots=True)
class Staged:
    """An upload written whole to a temporary file, not yet in the store."""

    path: Path
    sha256: str
    byte_size: int
    head: bytes
    too_large: bool = False

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def key_of(sha256: str) -> str:
    """``<first two hex digits>/<sha256>``: where a content lives, under the root."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256 hex digest")
    return f"{sha256[:2]}/{sha256}"


class LocalStorage:
    """Files under ``root/<first two hex digits>/<sha256>``; temporary ones under ``root/tmp``."""

    def __init__(self, root: str | Path, *, max_bytes: int, content_types: tuple[str, ...]):
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.content_types = frozenset(content_types)

    def path_of(self, sha256: str) -> Path:
        return self.root / key_of(sha256)

    async def stage(self, upload: Readable) -> Staged:
        """Read ``upload`` to a temporary file, hashing and counting; stops reading at one
        byte over ``max_bytes`` (``too_large``: the file is gone already)."""
        temporary = self.root / "tmp"
        await asyncio.to_thread(temporary.mkdir, parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=temporary, prefix="upload-")
        path = Path(name)
        digest, size, head = hashlib.sha256(), 0, b""
        try:
            with os.fdopen(handle, "wb") as out:
                while chunk := await upload.read(CHUNK_BYTES):
                    size += len(chunk)
                    if size > self.max_bytes:
                        path.unlink(missing_ok=True)
                        return Staged(path, "", size, head, too_large=True)
                    if len(head) < SNIFF_BYTES:
                        head += chunk[: SNIFF_BYTES - len(head)]
                    digest.update(chunk)
                    await asyncio.to_thread(out.write, chunk)
                await asyncio.to_thread(_flush, out)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return Staged(path, digest.hexdigest(), size, head)

    async def keep(self, staged: Staged) -> bool:
        """Put a staged file in the store under its hash (a copy: the staged file stays
        for ``ensure``); False when those bytes were there already."""
        target = self.path_of(staged.sha256)
        if await asyncio.to_thread(target.exists):
            return False
        await asyncio.to_thread(_copy_into_place, staged.path, target)
        return True

    async def ensure(self, staged: Staged) -> None:
        """After the upload's row committed: its bytes in place (a deletion that counted
        before the commit may have taken them), then the staged copy dropped."""
        try:
            if not await self.exists(staged.sha256):
                await self.keep(staged)
        finally:
            staged.discard()

    async def retire(self, sha256: str) -> str | None:
        """Move stored bytes aside; the name to ``restore`` or ``drop`` them by (None: they
        were not there)."""
        aside = f"{self.path_of(sha256)}.retired-{uuid.uuid4().hex}"
        try:
            await asyncio.to_thread(os.replace, self.path_of(sha256), aside)
        except FileNotFoundError:
            return None
        return aside

    async def restore(self, sha256: str, aside: str) -> None:
        """Bytes moved aside put back, unless an upload has placed them again meanwhile."""
        if await self.exists(sha256):
            await self.drop(aside)
        else:
            await asyncio.to_thread(os.replace, aside, self.path_of(sha256))

    async def drop(self, aside: str) -> None:
        await asyncio.to_thread(Path(aside).unlink, missing_ok=True)

    async def exists(self, sha256: str) -> bool:
        return await asyncio.to_thread(self.path_of(sha256).exists)

    async def chunks(self, sha256: str) -> AsyncIterator[bytes]:
        """The stored bytes, a chunk at a time."""
        with open(self.path_of(sha256), "rb") as source:
            while chunk := await asyncio.to_thread(source.read, CHUNK_BYTES):
                yield chunk


class S3Storage(LocalStorage):
    """Contents in an S3-compatible bucket under ``<prefix>/<first two hex digits>/<sha256>``;
    uploads are staged in the local directory, then put whole. Credentials come from the
    standard ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` variables (obstore reads them)."""

    def __init__(self, root: str | Path, url: str, *, max_bytes: int,
                 content_types: tuple[str, ...], endpoint: str | None = None,
                 region: str | None = None) -> None:  # fmt: skip
        from obstore.store import S3Store  # only loaded when a bucket is configured

        super().__init__(root, max_bytes=max_bytes, content_types=content_types)
        config = {name: value for name, value in (("endpoint", endpoint), ("region", region))
                  if value}  # fmt: skip
        options = {"allow_http": True} if endpoint and endpoint.startswith("http://") else {}
        self.url = url
        self.store = S3Store.from_url(url, config=config, client_options=options)

    async def keep(self, staged: Staged) -> bool:
        import obstore

        if await self.exists(staged.sha256):
            return False
        await obstore.put_async(self.store, key_of(staged.sha256), staged.path)
        return True

    async def retire(self, sha256: str) -> str | None:
        import obstore

        aside = f"{key_of(sha256)}.retired-{uuid.uuid4().hex}"
        try:
            await obstore.rename_async(self.store, key_of(sha256), aside)
        except FileNotFoundError:
            return None
        return aside

    async def restore(self, sha256: str, aside: str) -> None:
        import obstore

        if await self.exists(sha256):
            await self.drop(aside)
        else:
            await obstore.rename_async(self.store, aside, key_of(sha256))

    async def drop(self, aside: str) -> None:
        import obstore

        await obstore.delete_async(self.store, aside)

    async def exists(self, sha256: str) -> bool:
        import obstore

        try:
            await obstore.head_async(self.store, key_of(sha256))
        except FileNotFoundError:
            return False
        return True

    async def chunks(self, sha256: str) -> AsyncIterator[bytes]:
        import obstore

        found = await obstore.get_async(self.store, key_of(sha256))
        async for chunk in found.stream(min_chunk_size=CHUNK_BYTES):
            yield bytes(chunk)


def _copy_into_place(source: Path, target: Path) -> None:
    """``source``'s bytes under ``target`` as well, appearing whole or not at all: a hard
    link (same directory tree: no copy), or a copy renamed into place where links fail."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
        return
    except FileExistsError:
        return  # placed by another upload of the same bytes
    except OSError:
        pass
    handle, name = tempfile.mkstemp(dir=source.parent, prefix="place-")
    try:
        with os.fdopen(handle, "wb") as out, open(source, "rb") as inp:
            shutil.copyfileobj(inp, out, CHUNK_BYTES)
            _flush(out)
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def _flush(out) -> None:
    out.flush()
    os.fsync(out.fileno())


def build(root: str | Path, url: str | None, *, max_bytes: int, content_types: tuple[str, ...],
          endpoint: str | None = None, region: str | None = None) -> LocalStorage:  # fmt: skip
    """The storage the settings describe: the bucket of ``url`` if given, else ``root``."""
    if url:
        return S3Storage(root, url, max_bytes=max_bytes, content_types=content_types,
                         endpoint=endpoint, region=region)  # fmt: skip
    return LocalStorage(root, max_bytes=max_bytes, content_types=content_types)


STORAGE: ContextVar[LocalStorage | None] = ContextVar("storage", default=None)


def current() -> LocalStorage:
    storage = STORAGE.get()
    if storage is None:
        raise RuntimeError("no document storage is configured for this request")
    return storage


@contextmanager
def using(storage: LocalStorage | None) -> Iterator[None]:
    token = STORAGE.set(storage)
    try:
        yield
    finally:
        STORAGE.reset(token)
