"""Runtime settings: one frozen dataclass read from the environment and the command line.

Nothing else in the project reads ``os.environ``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite://./data/crm.sqlite3"


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    database_url: str = DEFAULT_DATABASE_URL
    demo: bool = False
    admin_token: str | None = None
    max_page_size: int = 100
    default_page_size: int = 20
    max_search_length: int = 200

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))

    def tortoise_db_url(self) -> str:
        """The URL in the form Tortoise expects (it knows ``postgres://`` and ``sqlite://``)."""
        if self.database_url.startswith("postgresql://"):
            return "postgres://" + self.database_url.removeprefix("postgresql://")
        return self.database_url

    def sqlite_path(self) -> Path | None:
        if not self.database_url.startswith("sqlite://"):
            return None
        path = self.database_url.removeprefix("sqlite://")
        return None if path == ":memory:" else Path(path)


def load_settings(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from flags, falling back to the environment, then to the defaults."""
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="server.py", description="crm-graph GraphQL API server")
    parser.add_argument("--host", default=env.get("CRM_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env.get("CRM_PORT", "8000")))
    parser.add_argument("--workers", type=int, default=int(env.get("CRM_WORKERS", "1")))
    parser.add_argument(
        "--database-url",
        default=env.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        help="sqlite://path/to/file.sqlite3 or postgres://user@host:port/db",
    )
    parser.add_argument(
        "--demo", action="store_true", help="fill an empty database with realistic demo data"
    )
    args = parser.parse_args(list(argv) if argv is not None else [])
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return Settings(
        host=args.host,
        port=args.port,
        workers=args.workers,
        database_url=args.database_url,
        demo=args.demo,
        admin_token=env.get("CRM_ADMIN_TOKEN") or None,
    )
