"""Runtime settings: one frozen dataclass read from the environment and the command line.

Nothing else in the project reads ``os.environ``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

import phonenumbers

from engine.limits import MAX_COST

DEFAULT_DATABASE_URL = "sqlite://./data/crm.sqlite3"
DEFAULT_STORAGE_DIR = "./data/documents"
# What an uploaded document may be, by the type sniffed from its bytes: families of types
# (``--document-types pdf,images,office``) or the types themselves.
DOCUMENT_TYPE_FAMILIES = {
    "pdf": ("application/pdf",),
    "images": ("image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/tiff"),
    "office": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
    ),
}  # fmt: skip
DEFAULT_DOCUMENT_TYPES = "pdf,images,office"


def _types(value: str) -> tuple[str, ...]:
    """Content types, with each family name (``images``) spelled out."""
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    spelled = (DOCUMENT_TYPE_FAMILIES.get(name, (name,)) for name in names)
    return tuple(dict.fromkeys(kind for family in spelled for kind in family))


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
    # Browser origins (SPAs) allowed to call the API cross-site; none: same origin only.
    cors_origins: tuple[str, ...] = ()
    # Query-cost points each token (or anonymous address) may spend a minute; 0: no limit.
    rate_limit_points: int = 60_000
    # Where the rate limit budgets live when several server processes share them.
    redis_url: str | None = None
    max_body_bytes: int = 256 * 1024
    max_upload_bytes: int = 10 * 1024 * 1024
    # Read queries on the breadth-first executor (engine/executor.py); off: graphql-core only.
    fast_execution: bool = True
    # Seconds a shutdown (SIGTERM) waits for requests in flight before cancelling them.
    graceful_timeout: int = 20
    log_format: str = "text"
    # The region of phone numbers whose contact has no country (nor its account's main site).
    default_region: str = "PE"
    # The span exporters (the SDK's entry-point names) the OTEL_* variables configure; none:
    # tracing off, and nothing of OpenTelemetry loaded (tracing.py).
    trace_exporters: tuple[str, ...] = ()
    # Where uploaded documents' bytes live, content-addressed (storage.py).
    storage_dir: str = DEFAULT_STORAGE_DIR
    # An S3-compatible bucket for the bytes instead (s3://bucket/prefix), its endpoint
    # (a MinIO, Ceph or other S3-compatible server) and region.
    storage_url: str | None = None
    bucket_endpoint: str | None = None
    bucket_region: str | None = None
    # The content types (sniffed from the bytes) a document may have.
    document_types: tuple[str, ...] = _types(DEFAULT_DOCUMENT_TYPES)

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

    def environment(self) -> dict[str, str]:
        """These settings as the variables ``load_settings`` reads (for worker processes)."""
        variables = {
            "DATABASE_URL": self.database_url,
            "CRM_CORS_ORIGINS": ",".join(self.cors_origins),
            "CRM_RATE_LIMIT_POINTS": str(self.rate_limit_points),
            "CRM_MAX_BODY_BYTES": str(self.max_body_bytes),
            "CRM_MAX_UPLOAD_BYTES": str(self.max_upload_bytes),
            "CRM_GRACEFUL_TIMEOUT": str(self.graceful_timeout),
            "CRM_LOG_FORMAT": self.log_format,
            "CRM_DEFAULT_REGION": self.default_region,
            "CRM_STORAGE_DIR": self.storage_dir,
            "CRM_DOCUMENT_TYPES": ",".join(self.document_types),
        }
        if self.redis_url:
            variables["CRM_REDIS_URL"] = self.redis_url
        for name, value in (("CRM_STORAGE_URL", self.storage_url),
                            ("CRM_BUCKET_ENDPOINT", self.bucket_endpoint),
                            ("CRM_BUCKET_REGION", self.bucket_region)):  # fmt: skip
            if value:
                variables[name] = value
        if not self.fast_execution:
            variables["CRM_STANDARD_EXECUTION"] = "1"
        return variables


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def _switch(name: str, value: str) -> bool:
    """An on/off environment variable; anything else is refused, not guessed."""
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise SystemExit(f"{name} must be 1/true/yes/on or 0/false/no/off (got {value!r})")


# OTEL_EXPORTER_OTLP_PROTOCOL's values and the exporter each means (the spec's default:
# http/protobuf; crm-graph[otel] installs that one).
_OTLP_EXPORTERS = {"http/protobuf": "otlp_proto_http", "grpc": "otlp_proto_grpc"}


def trace_exporters(env: Mapping[str, str]) -> tuple[str, ...]:
    """The span exporters the standard variables configure: ``OTEL_TRACES_EXPORTER``
    (``otlp``, ``console``, … comma-separated; ``none``), or ``otlp`` when only an OTLP
    endpoint is set. None when neither is set or ``OTEL_SDK_DISABLED=true``."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return ()
    names = [name.strip() for name in env.get("OTEL_TRACES_EXPORTER", "").split(",")]
    names = [name for name in names if name]
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT")  # fmt: skip
    if not names and endpoint:
        names = ["otlp"]
    if "none" in names:
        return ()
    protocol = (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf").strip()  # fmt: skip
    if "otlp" in names and protocol not in _OTLP_EXPORTERS:
        raise SystemExit(f"OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or grpc "
                         f"(got {protocol!r})")  # fmt: skip
    exporters = tuple(dict.fromkeys(_OTLP_EXPORTERS[protocol] if name == "otlp" else name
                                    for name in names))  # fmt: skip
    for name in exporters:
        if not entry_points(group="opentelemetry_traces_exporter", name=name):
            raise SystemExit(f"OTEL_TRACES_EXPORTER: no installed package provides the "
                             f"{name!r} span exporter (pip install 'crm-graph[otel]')")  # fmt: skip
    return exporters


def _origins(value: str) -> tuple[str, ...]:
    return tuple(origin.strip().rstrip("/") for origin in value.split(",") if origin.strip())


EPILOG = """\
commands:
  server.py migrate [--database-url URL]
                        apply the pending migrations and exit (start-up applies them too)

environment only:
  CRM_ADMIN_TOKEN       start-up makes sure an admin user with this API token exists;
                        unset and no users yet: start-up creates one and prints its token once
  OTEL_TRACES_EXPORTER  otlp, console (comma-separated) or none: OpenTelemetry traces, with
                        crm-graph[otel] installed; the SDK's other OTEL_* variables apply
                        (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_SDK_DISABLED, ...)

The server runs in the foreground until Ctrl-C or SIGTERM. A flag wins over its variable.
docs/operations.md: running it in production."""


def argument_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    """The command line; each flag's default comes from its variable in ``env``, and its
    help names both."""
    parser = argparse.ArgumentParser(
        prog="server.py",
        description="crm-graph GraphQL API server",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host",
        default=env.get("CRM_HOST", "127.0.0.1"),
        help="address to listen on (default: %(default)s; env CRM_HOST)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(env.get("CRM_PORT", "8000")),
        help="port to listen on (default: %(default)s; env CRM_PORT)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(env.get("CRM_WORKERS", "1")),
        help="uvicorn worker processes (default: %(default)s; env CRM_WORKERS)",
    )
    parser.add_argument(
        "--database-url",
        default=env.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        help="sqlite://path/to/file.sqlite3 or postgres://user@host:port/db "
        "(default: %(default)s; env DATABASE_URL)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="fill an empty database with realistic demo data "
        "(default: off; no environment variable)",
    )
    parser.add_argument(
        "--cors-origins",
        type=_origins,
        default=_origins(env.get("CRM_CORS_ORIGINS", "")),
        help="comma-separated browser origins allowed cross-site, e.g. https://app.example.com "
        "(default: none, same origin only; env CRM_CORS_ORIGINS)",
    )
    parser.add_argument(
        "--rate-limit-points",
        type=int,
        default=int(env.get("CRM_RATE_LIMIT_POINTS", "60000")),
        help=f"query-cost points each token may spend a minute; 0: no limit, otherwise at "
        f"least {MAX_COST} (default: %(default)s; env CRM_RATE_LIMIT_POINTS)",
    )
    parser.add_argument(
        "--redis-url",
        default=env.get("CRM_REDIS_URL") or None,
        help="redis://host:6379/0 to share rate limits between server processes "
        "(default: none, each process keeps its own; env CRM_REDIS_URL)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=int(env.get("CRM_MAX_BODY_BYTES", str(256 * 1024))),
        help="largest request body (default: %(default)s; env CRM_MAX_BODY_BYTES)",
    )
    parser.add_argument(
        "--max-upload-bytes",
        type=int,
        default=int(env.get("CRM_MAX_UPLOAD_BYTES", str(10 * 1024 * 1024))),
        help="largest multipart upload body (default: %(default)s; env CRM_MAX_UPLOAD_BYTES)",
    )
    parser.add_argument(
        "--storage-dir",
        default=env.get("CRM_STORAGE_DIR", DEFAULT_STORAGE_DIR),
        help="directory of uploaded documents' bytes, named by their sha256; back it up with "
        "the database (default: %(default)s; env CRM_STORAGE_DIR)",
    )
    parser.add_argument(
        "--storage-url",
        default=env.get("CRM_STORAGE_URL") or None,
        help="s3://bucket/prefix: keep documents' bytes in an S3-compatible bucket instead "
        "(credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; uploads are staged in "
        "--storage-dir) (default: none, the directory; env CRM_STORAGE_URL)",
    )
    parser.add_argument(
        "--bucket-endpoint",
        default=env.get("CRM_BUCKET_ENDPOINT") or None,
        help="the bucket's endpoint, e.g. http://127.0.0.1:9000 for MinIO "
        "(default: none, AWS; env CRM_BUCKET_ENDPOINT)",
    )
    parser.add_argument(
        "--bucket-region",
        default=env.get("CRM_BUCKET_REGION") or None,
        help="the bucket's region (default: none, the SDK's; env CRM_BUCKET_REGION)",
    )
    parser.add_argument(
        "--document-types",
        type=_types,
        default=env.get("CRM_DOCUMENT_TYPES", DEFAULT_DOCUMENT_TYPES),
        help="comma-separated content types a document may have, as sniffed from its bytes, "
        "or the families pdf, images, office (default: %(default)s; env CRM_DOCUMENT_TYPES)",
    )
    parser.add_argument(
        "--graceful-timeout",
        type=int,
        default=int(env.get("CRM_GRACEFUL_TIMEOUT", "20")),
        help="seconds a shutdown waits for requests in flight before cancelling them "
        "(default: %(default)s; env CRM_GRACEFUL_TIMEOUT)",
    )
    parser.add_argument(
        "--log-format",
        default=env.get("CRM_LOG_FORMAT", "text"),
        choices=("text", "json"),
        help="text (for a terminal) or json (one object a line, for a log collector) "
        "(default: text; env CRM_LOG_FORMAT)",
    )
    parser.add_argument(
        "--default-region",
        type=str.upper,
        default=env.get("CRM_DEFAULT_REGION", "PE").upper(),
        help="ISO 3166-1 alpha-2 country whose phone numbers are read when a contact's "
        "location and account have no country (default: %(default)s; env CRM_DEFAULT_REGION)",
    )
    parser.add_argument(
        "--standard-execution",
        action="store_true",
        default=_switch("CRM_STANDARD_EXECUTION", env.get("CRM_STANDARD_EXECUTION", "")),
        help="answer every query with graphql-core's executor, not the breadth-first one "
        "(default: off; env CRM_STANDARD_EXECUTION=1)",
    )
    return parser


def load_settings(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from flags, falling back to the environment, then to the defaults."""
    env = os.environ if environ is None else environ
    parser = argument_parser(env)
    args = parser.parse_args(list(argv) if argv is not None else [])
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.rate_limit_points < 0:
        parser.error("--rate-limit-points must not be negative")
    if 0 < args.rate_limit_points < MAX_COST:
        parser.error(f"--rate-limit-points must be 0 (off) or at least {MAX_COST}, the "
                     f"largest cost of one query (got {args.rate_limit_points})")  # fmt: skip
    if args.graceful_timeout < 0:
        parser.error("--graceful-timeout must not be negative")
    if args.log_format not in ("text", "json"):
        parser.error(f"--log-format must be text or json (got {args.log_format!r})")
    if args.max_body_bytes < 1 or args.max_upload_bytes < 1:
        parser.error("body limits must be positive")
    if not args.storage_dir.strip():
        parser.error("--storage-dir must not be empty")
    if args.storage_url and not args.storage_url.startswith("s3://"):
        parser.error(f"--storage-url must be s3://bucket/prefix (got {args.storage_url!r})")
    if not args.document_types:
        parser.error("--document-types must name at least one content type")
    if args.default_region not in phonenumbers.SUPPORTED_REGIONS:
        parser.error(f"--default-region must be a country code phone numbers know, such as PE "
                     f"or MX (got {args.default_region!r})")  # fmt: skip
    return Settings(
        host=args.host,
        port=args.port,
        workers=args.workers,
        database_url=args.database_url,
        demo=args.demo,
        admin_token=env.get("CRM_ADMIN_TOKEN") or None,
        cors_origins=args.cors_origins,
        rate_limit_points=args.rate_limit_points,
        redis_url=args.redis_url,
        max_body_bytes=args.max_body_bytes,
        max_upload_bytes=args.max_upload_bytes,
        fast_execution=not args.standard_execution,
        graceful_timeout=args.graceful_timeout,
        log_format=args.log_format,
        default_region=args.default_region,
        trace_exporters=trace_exporters(env),
        storage_dir=args.storage_dir,
        storage_url=args.storage_url,
        bucket_endpoint=args.bucket_endpoint,
        bucket_region=args.bucket_region,
        document_types=args.document_types,
    )


def __getattr__(name: str) -> object:
    """``settings.TORTOISE_ORM``, the configuration the ``tortoise`` CLI reads (pyproject's
    ``[tool.tortoise]``): the database of ``DATABASE_URL``, computed only when asked for."""
    if name == "TORTOISE_ORM":
        from models.migrate import tortoise_config

        return tortoise_config(load_settings([]).tortoise_db_url())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
