"""Who sent each invitation, read from the deliveries (a read-only query: no aggregate)."""

from __future__ import annotations

import asyncpg

from services.dispatcher.domain.calendar import Inviter

INVITER_SQL = "SELECT sender_email, training_session FROM deliveries WHERE invitation = $1"


class PostgresInviters:
    def __init__(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        self._pool = pool

    async def of(self, invitation: str) -> Inviter | None:
        row = await self._pool.fetchrow(INVITER_SQL, invitation)
        if row is None:
            return None
        return Inviter(sender_email=row["sender_email"], training_session=row["training_session"])
