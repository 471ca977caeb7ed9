"""The PostgreSQL pool: opened once at start, closed at shutdown, one schema per service."""

from __future__ import annotations

import json
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# What repositories work on: a plain connection or one borrowed from the pool.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


CONNECT_TIMEOUT_SECONDS = 5.0
IDLE_CONNECTION_SECONDS = 60.0


async def _init_connection(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    # jsonb columns in and out as Python objects.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(
    database_url: str, schema: str, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool[asyncpg.Record]:
    """A pool whose connections see `schema` first, so a service's SQL names its tables plainly."""
    pool = await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        # A connect that hangs (a server that is gone without a word) fails in seconds and the
        # call is answered UNAVAILABLE instead of hanging. Connections the server closed (on a
        # restart) are noticed by asyncpg and replaced on the next acquire; idle ones are
        # recycled so that none outlives a failover for long.
        timeout=CONNECT_TIMEOUT_SECONDS,
        max_inactive_connection_lifetime=IDLE_CONNECTION_SECONDS,
        server_settings={"search_path": f"{schema},public", "application_name": schema},
    )
    assert pool is not None
    return pool
