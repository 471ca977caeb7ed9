"""Versioned plain-SQL migrations per schema, applied with yoyo-migrations.

Each service keeps its migrations in its own `migrations/` folder and its own schema; yoyo's
bookkeeping tables live in that schema too, so the services migrate independently.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from yoyo import get_backend, read_migrations

SERVICES_DIR = Path(__file__).resolve().parent.parent

# Schema name -> its migrations; "platform" holds the wider platform's read-only inputs.
MIGRATION_SETS: dict[str, Path] = {
    "platform": SERVICES_DIR / "platform" / "migrations",
    "catalog": SERVICES_DIR / "catalog" / "migrations",
    "personalizer": SERVICES_DIR / "personalizer" / "migrations",
    "dispatcher": SERVICES_DIR / "dispatcher" / "migrations",
}

_log = logging.getLogger(__name__)


def _yoyo_url(database_url: str, schema: str) -> str:
    """The same database as a yoyo URL (psycopg 3 driver) whose search_path is `schema`."""
    parts = urlsplit(database_url)
    query = dict(parse_qsl(parts.query))
    query["schema"] = schema
    return urlunsplit(("postgresql+psycopg", parts.netloc, parts.path, urlencode(query), ""))


def apply_migrations(database_url: str, schema: str) -> int:
    """Create `schema` if needed and apply its pending migrations; return how many ran."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    backend = get_backend(_yoyo_url(database_url, schema))
    migrations = read_migrations(str(MIGRATION_SETS[schema]))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    _log.info("migrations applied", extra={"schema": schema, "count": len(pending)})
    return len(pending)


def apply_all(database_url: str) -> None:
    """Migrate every schema, the platform's first because the personalizer reads it."""
    for schema in MIGRATION_SETS:
        apply_migrations(database_url, schema)
