"""Seed the demo data into a migrated database."""

from __future__ import annotations

import datetime as dt

import asyncpg

from services.catalog import seed as catalog_seed
from services.catalog.adapters.unit_of_work import PostgresCatalogUnitOfWork
from services.common.db import create_pool
from services.common.messaging.registry import EventRegistry
from services.platform import seed as platform_seed


async def seed_all(database_url: str, today: dt.date | None = None) -> None:
    """Platform inputs and catalog sessions; safe to run on every start."""
    conn = await asyncpg.connect(database_url)
    try:
        await platform_seed.seed(conn, today or dt.date.today())
    finally:
        await conn.close()
    pool = await create_pool(database_url, "catalog", 1, 2)
    try:
        # Seeding announces nothing: a registry without entries refuses any event.
        await catalog_seed.seed(PostgresCatalogUnitOfWork(pool, EventRegistry()))
    finally:
        await pool.close()
