"""One setting, a URL, chooses the backend: `sqlite:///path.db` or `postgresql://...`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from ledger.errors import BackendURLError

DB_ENV = "PMO_LEDGER_DB"
DEFAULT_SQLITE_FILE = "pmo-ledger.sqlite3"
_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Backend:
    """A parsed database URL and the `eventsourcing` environment it stands for."""

    url: str
    kind: str  # "sqlite" or "postgresql"
    env: dict[str, str]

    @property
    def sqlite_path(self) -> Path | None:
        return Path(self.env["SQLITE_DBNAME"]) if self.kind == "sqlite" else None

    def describe(self) -> str:
        """The URL without a password, for messages and logs."""
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", self.url)


def default_url(instance_path: str | os.PathLike[str] = "instance") -> str:
    return f"sqlite:///{Path(instance_path) / DEFAULT_SQLITE_FILE}"


def parse_url(url: str) -> Backend:
    """Turn a database URL into a Backend, or raise BackendURLError saying what is wrong."""
    if not url or "://" not in url:
        raise BackendURLError(
            f"database URL {url!r} is not a URL: use sqlite:///path/file.db or "
            "postgresql://user@host:port/dbname"
        )
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        return _sqlite(url, parts.path)
    if scheme in ("postgresql", "postgres"):
        return _postgres(url, parts)
    raise BackendURLError(
        f"unknown backend {parts.scheme!r} in {url!r}: the ledger supports sqlite:/// and postgresql://"
    )


def _sqlite(url: str, path: str) -> Backend:
    # sqlite:///relative/file.db -> path "/relative/file.db"; sqlite:////abs/file.db -> "//abs..."
    if not path or path == "/":
        raise BackendURLError(f"{url!r} names no database file: use sqlite:///path/file.db")
    file = unquote(path[1:])
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": file,
        "SQLITE_LOCK_TIMEOUT": "30",
        "APPLICATION_RECORDER_TOPIC": "ledger.recorders.sqlite:SignedSQLiteApplicationRecorder",
    }
    return Backend(url, "sqlite", env)


def _postgres(url: str, parts) -> Backend:  # noqa: ANN001
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname or not parts.hostname:
        raise BackendURLError(f"{url!r} needs a host and a database: postgresql://user@host:port/dbname")
    query = parse_qs(parts.query)
    schema = query.get("schema", ["public"])[0]
    if not _SCHEMA_RE.match(schema):
        raise BackendURLError(f"schema {schema!r} is not a plain lower-case identifier")
    try:
        port = parts.port or 5432
    except ValueError:
        raise BackendURLError(f"{url!r} has an invalid port") from None
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": parts.hostname,
        "POSTGRES_PORT": str(port),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_CONNECT_TIMEOUT": query.get("connect_timeout", ["5"])[0],
        "POSTGRES_POOL_SIZE": "2",
        "POSTGRES_MAX_OVERFLOW": "8",
        "POSTGRES_LOCK_TIMEOUT": "30",
        "APPLICATION_RECORDER_TOPIC": "ledger.recorders.postgres:SignedPostgresApplicationRecorder",
    }
    return Backend(url, "postgresql", env)


def resolve_url(url: str | None, instance_path: str | os.PathLike[str] = "instance") -> str:
    """The URL given, else $PMO_LEDGER_DB, else the embedded default under `instance/`."""
    return url or os.environ.get(DB_ENV) or default_url(instance_path)


def backend_failure_types() -> tuple[type[BaseException], ...]:
    """The errors that mean the database is unreachable (the library's, and the PostgreSQL
    driver's own where it is installed), for callers that answer them as 503."""
    from eventsourcing.persistence import InterfaceError, OperationalError

    kinds: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - SQLite-only installs
        return kinds
    return (*kinds, psycopg.OperationalError, psycopg.InterfaceError)
