"""Peak memory of the server while it streams a large export.

    python -m bench.export_memory --rows 1000000                 # SQLite, CSV and XLSX
    python -m bench.export_memory --rows 200000 --formats csv --database-url postgres://postgres@127.0.0.1:5432/crm_bench_export

Generates ``--rows`` contacts once (each with two emails, a mobile, a HOME address, two tags
and three custom fields), starts ``python server.py`` on that database on a loopback port,
asks one export per format and reads it to the end, and reports the server process's
resident memory before the export and at its peak (``VmHWM`` of ``/proc/<pid>/status``,
reset before each export), and of it the anonymous part (``RssAnon``, sampled): on SQLite
the server maps up to 256 MiB of the database file (``mmap_size``), pages the kernel counts
as resident but may drop at any time. One request per format: bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-export-token"
BATCH = 20_000
NOW = datetime(2025, 11, 1, tzinfo=UTC)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.export_memory")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--database-url", default=None,
                        help="default: a SQLite file under data/bench/")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per export")
    args = parser.parse_args(argv)
    url = args.database_url or f"sqlite://{ROOT / 'data' / 'bench' / f'export-{args.rows}.sqlite3'}"
    asyncio.run(prepare(url, args.rows))
    results = [measure(url, fmt, args.timeout) for fmt in args.formats.split(",")]
    print(json.dumps(results, indent=2))
    print()
    print("| rows | backend | format | bytes | seconds | RSS before → peak (MB) "
          "| of it anonymous, before → peak (MB) |")  # fmt: skip
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: |")
    backend = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    for r in results:
        print(f"| {args.rows:,} | {backend} | {r['format']} | {r['bytes']:,} | {r['seconds']:.0f} "
              f"| {r['rss_before_mb']:.0f} → {r['peak_rss_mb']:.0f} "
              f"| {r['anon_before_mb']:.0f} → {r['peak_anon_mb']:.0f} |")  # fmt: skip


async def prepare(url: str, rows: int) -> None:
    """The schema through the server's own start-up, then the rows, once."""
    from models.db import close_database, init_database
    from models.users import User
    from resolvers.users import ensure_admin

    if url.startswith("sqlite://"):
        Path(url.removeprefix("sqlite://")).parent.mkdir(parents=True, exist_ok=True)
    await init_database(url)
    try:
        await ensure_admin(TOKEN)
        from models import Contact

        have = await Contact.all().count()
        if have >= rows:
            return
        if have:
            raise SystemExit(f"{url} holds {have} contacts, fewer than {rows}: use a fresh one")
        owner = (await User.get(role="ADMIN")).id
    finally:
        await close_database()
    started = time.monotonic()
    if url.startswith("postgres"):
        await _fill_postgres(url, rows, owner)
    else:
        _fill_sqlite(Path(url.removeprefix("sqlite://")), rows, owner)
    print(f"generated {rows:,} contacts in {time.monotonic() - started:.0f} s", file=sys.stderr)


ACCOUNTS = 1000


def _accounts() -> Iterator[tuple]:
    for a in range(1, ACCOUNTS + 1):
        yield (NOW, NOW, a, f"Bodega Núñez {a}", "ACTIVE", False, "[]", "[]", "{}",
               f"bodega nunez {a}")  # fmt: skip


def _locations(rows: int) -> Iterator[tuple]:
    for a in range(1, ACCOUNTS + 1):  # ids 1..ACCOUNTS: each account's MAIN
        yield (NOW, NOW, a, a, None, "MAIN", f"Bodega Núñez {a}", "Av. Lima 100", "Lima", "PE",
               True, "")  # fmt: skip
    for c in range(1, rows + 1):  # then every contact's HOME address
        yield (NOW, NOW, ACCOUNTS + c, (c % ACCOUNTS) + 1, c, "HOME", "Casa",
               f"Calle Los Pinos {c}", "Lima", "PE", True, "")  # fmt: skip


def _contacts(rows: int, owner: int) -> Iterator[tuple]:
    for c in range(1, rows + 1):
        account = (c % ACCOUNTS) + 1
        custom = json.dumps({"nivel": "oro", "visitas": c % 50, "nota": f"cliente {c}"})
        yield (NOW, NOW, c, f"José {c}", "Pérez Ñique", "Jefe de compras", False, False, False,
               False, "IMPORT", False, "ACTIVE", '["mayorista", "lima"]',
               '["mayorista", "lima"]', custom,
               f"jose {c} perez nique", account, account, owner)  # fmt: skip


def _channels(rows: int) -> Iterator[tuple]:
    for c in range(1, rows + 1):
        yield (NOW, NOW, "EMAIL", f"jose.{c}@nunez.pe", f"jose.{c}@nunez.pe", True, True, c)
        yield (NOW, NOW, "EMAIL", f"jperez.{c}@gmail.com", f"jperez.{c}@gmail.com", False, True, c)
        yield (NOW, NOW, "MOBILE", f"+51 9{c:08d}", f"519{c:08d}", True, True, c)


ACCOUNT_COLUMNS = ("created_at", "updated_at", "id", "name", "status", "is_vip", "tags",
                   "tag_keys", "custom_fields", "search_text")  # fmt: skip
LOCATION_COLUMNS = ("created_at", "updated_at", "id", "account_id", "contact_id", "kind", "name",
                    "street", "city", "country", "is_default", "search_text")  # fmt: skip
CONTACT_COLUMNS = ("created_at", "updated_at", "id", "first_name", "last_name", "job_title",
                   "is_vip", "is_preferred", "portal_user", "email_opt_out", "capture_source",
                   "converted_from_lead", "status", "tags", "tag_keys", "custom_fields",
                   "search_text",
                   "account_id", "location_id", "owner_id")  # fmt: skip
CHANNEL_COLUMNS = ("created_at", "updated_at", "kind", "value", "normalized", "is_primary",
                   "contact_active", "contact_id")  # fmt: skip


def _generators(rows: int, owner: int) -> list[tuple[str, tuple[str, ...], Iterator[tuple]]]:
    return [
        ("account", ACCOUNT_COLUMNS, _accounts()),
        ("location", LOCATION_COLUMNS, _locations(rows)),
        ("contact", CONTACT_COLUMNS, _contacts(rows, owner)),
        ("channel", CHANNEL_COLUMNS, _channels(rows)),
    ]


def _fill_sqlite(path: Path, rows: int, owner: int) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    for table, columns, generator in _generators(rows, owner):
        names = ", ".join(f'"{c}"' for c in columns)
        statement = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'
        batch: list[tuple] = []
        for row in generator:
            batch.append(tuple(v.isoformat(" ") if isinstance(v, datetime) else v for v in row))
            if len(batch) >= BATCH:
                db.executemany(statement, batch)
                batch.clear()
        db.executemany(statement, batch)
        db.commit()
    db.execute("ANALYZE")
    db.close()


async def _fill_postgres(url: str, rows: int, owner: int) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        for table, columns, generator in _generators(rows, owner):
            batch: list[tuple] = []
            for row in generator:
                batch.append(row)
                if len(batch) >= BATCH:
                    await connection.copy_records_to_table(table, records=batch, columns=columns)
                    batch.clear()
            await connection.copy_records_to_table(table, records=batch, columns=columns)
        for table in ("account", "location", "contact", "channel"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"
            )
        await connection.execute("VACUUM (ANALYZE)")
    finally:
        await connection.close()


def _status(pid: int) -> dict[str, int]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            found[name] = int(value.split()[0]) * 1024
    return found


class _AnonymousPeak(threading.Thread):
    """The process's own memory (``RssAnon``: heap, not the SQLite file pages it maps),
    sampled every 50 ms: ``VmHWM`` has no anonymous-only twin."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.peak = max(self.peak, _status(self.pid)["RssAnon"])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def measure(url: str, fmt: str, timeout: float) -> dict:
    port = _free_port()
    command = [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1", "--port",
               str(port), "--database-url", url, "--rate-limit-points", "0"]  # fmt: skip
    env = {**os.environ, "CRM_ADMIN_TOKEN": TOKEN}
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.5)
        # Warm: the first request loads what every request uses (schema, openpyxl).
        httpx.get(f"{base}/export/contacts.{fmt}", params={"columns": "firstName", "search": "x"},
                  headers=headers, timeout=60)  # fmt: skip
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # resets VmHWM to VmRSS
        before = _status(server.pid)
        sampler = _AnonymousPeak(server.pid)
        sampler.start()
        started, size = time.monotonic(), 0
        with httpx.stream("GET", f"{base}/export/contacts.{fmt}", headers=headers,
                          timeout=timeout) as response:  # fmt: skip
            response.raise_for_status()
            for chunk in response.iter_bytes(1 << 16):
                size += len(chunk)
        seconds = time.monotonic() - started
        peak = _status(server.pid)["VmHWM"]
        sampler.done.set()
        sampler.join()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    return {"format": fmt, "bytes": size, "seconds": seconds,
            "rss_before_mb": before["VmRSS"] / 2**20, "peak_rss_mb": peak / 2**20,
            "anon_before_mb": before["RssAnon"] / 2**20,
            "peak_anon_mb": max(sampler.peak, before["RssAnon"]) / 2**20}  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
