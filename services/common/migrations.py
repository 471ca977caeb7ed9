"""Versioned plain-SQL migrations per schema, applied with yoyo-migrations.

Each service keeps its migrations in its own `migrations/` folder and its own schema; yoyo's
bookkeeping tables live in that schema too, so the services migrate independently. What every
service's schema holds alike (the outbox, the processed events) comes from `common/migrations`,
applied to each service's schema before its own.
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
# Applied to every service's schema (not the platform's, which only holds inputs).
SHARED_MIGRATIONS = SERVICES_DIR / "common" / "migrations"

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
    sources = [MIGRATION_SETS[schema]]
    if schema != "platform":
        sources.insert(0, SHARED_MIGRATIONS)
    pending_count = 0
    with backend.lock():
        # One source at a time, shared first: yoyo orders migrations by id across sources.
        for source in sources:
            pending = backend.to_apply(read_migrations(str(source)))
            backend.apply_migrations(pending)
            pending_count += len(pending)
    _log.info("migrations applied", extra={"schema": schema, "count": pending_count})
    return pending_count


def apply_all(database_url: str) -> None:
    """Migrate every schema, the platform's first because the personalizer reads it."""
    for schema in MIGRATION_SETS:
        apply_migrations(database_url, schema)
