"""Time a large ``importContacts`` over HTTP, and the server's peak memory while it runs.

    python -m bench.import_csv --rows 100000                  # SQLite (a fresh file)
    python -m bench.import_csv --rows 100000 --database-url postgres://postgres@127.0.0.1:5432/crm_bench_import

Writes a CSV of ``--rows`` new contacts (Spanish headers; an email, a mobile, a job title,
a document, tags, a custom field and an address each; ``--accounts`` distinct companies,
created by the import), starts ``python server.py`` on an empty database on a loopback port,
sends the file once as ``curl -F`` would (GraphQL multipart request, only the
``Authorization`` header), and reports the seconds until the answer and the server's peak
resident memory (``VmHWM``, reset just before the upload). A PostgreSQL database is emptied
first: give one that holds nothing of value. One request: bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import socket
import sys
import time
from pathlib import Path

import httpx

from bench.driver import ServerProcess

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-import-token"
HEADER = [
    "Nombre",
    "Apellidos",
    "Correo electrónico",
    "Móvil",
    "Cargo",
    "Tipo de documento",
    "Número de documento",
    "Etiquetas",
    "cf.nivel",
    "Dirección",
    "Distrito",
    "Empresa",
]
MUTATION = """mutation($input: ImportContactsInput!) { importContacts(input: $input) {
  import { id status rowsTotal rowsProcessed } created updated unchanged skipped
  rowErrors { row field code message } errors { code message } } }"""


def write_file(path: Path, rows: int, accounts: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(rows):
            writer.writerow(
                [
                    f"Nombre{n}",
                    f"Pérez Ñique {n % 997}",
                    f"persona{n}@example.pe",
                    f"+51 9{n % 100:02d} {n // 100 % 1000:03d} {n % 1000:03d}",
                    "Jefe de compras",
                    "DNI",
                    f"{10_000_000 + n}",
                    "mayorista;norte",
                    f"nivel {n % 5}",
                    f"Av. Brasil {n % 3000}",
                    "Jesús María",
                    f"Bodega {n % accounts}",
                ]
            )


async def empty_postgres(url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def measure(url: str, file: Path, timeout: float) -> dict:
    port = free_port()
    server = ServerProcess(
        [
            sys.executable,
            "server.py",
            "--port",
            str(port),
            "--database-url",
            url,
            "--max-upload-bytes",
            str(file.stat().st_size + 1024 * 1024),
            "--rate-limit-points",
            "0",
        ],
        port,
        ROOT / "data" / "bench" / "import-server.log",
        {"CRM_ADMIN_TOKEN": TOKEN},
    )
    await server.start()
    try:
        before = server.peak_memory_mib()
        server.reset_peak_memory()
        operations = {
            "query": MUTATION,
            "variables": {"input": {"file": None, "createAccounts": True}},
        }
        async with httpx.AsyncClient(base_url=server.base_url, timeout=timeout) as http:
            with file.open("rb") as handle:
                started = time.perf_counter()
                response = await http.post(
                    "/graphql",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    data={
                        "operations": json.dumps(operations),
                        "map": json.dumps({"0": ["variables.input.file"]}),
                    },
                    files={"0": (file.name, handle, "text/csv")},
                )
                seconds = time.perf_counter() - started
        body = response.json()
        result = body["data"]["importContacts"] if body.get("data") else body
        return {
            "backend": "postgresql" if url.startswith("postgres") else "sqlite",
            "bytes": file.stat().st_size,
            "seconds": round(seconds, 1),
            "rss_before_mib": round(before, 1),
            "peak_rss_mib": round(server.peak_memory_mib(), 1),
            "created": result.get("created"),
            "row_errors": len(result.get("rowErrors") or []),
            "status": (result.get("import") or {}).get("status"),
            "errors": result.get("errors"),
        }
    finally:
        server.stop()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.import_csv")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument(
        "--database-url", default=None, help="default: a fresh SQLite file under data/bench/"
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for the import")
    args = parser.parse_args(argv)
    file = ROOT / "data" / "bench" / f"import-{args.rows}.csv"
    write_file(file, args.rows, args.accounts)
    url = args.database_url
    if url is None:
        database = ROOT / "data" / "bench" / f"import-{args.rows}.sqlite3"
        for stale in database.parent.glob(database.name + "*"):
            stale.unlink()
        url = f"sqlite://{database}"
    else:
        asyncio.run(empty_postgres(url))
    result = asyncio.run(measure(url, file, args.timeout))
    print(json.dumps({"rows": args.rows, **result}, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
