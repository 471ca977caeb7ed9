"""Who sent each invitation, read from the deliveries (a read-only query: no aggregate)."""

from __future__ import annotations

import asyncpg

from services.dispatcher.domain.calendar import Inviter

INVITER_SQL = "SELECT sender_email, training_session FROM deliveries WHERE invitation = $1"
# One address per mailbox: addresses differing only in case reach the same calendar.
ORGANIZERS_SQL = """
    SELECT DISTINCT ON (lower(sender_email)) sender_email
    FROM deliveries
    WHERE training_session = $1 AND purpose = 'invitation'
    ORDER BY lower(sender_email), sender_email
"""


class PostgresInviters:
    def __init__(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        self._pool = pool

    async def of(self, invitation: str) -> Inviter | None:
        row = await self._pool.fetchrow(INVITER_SQL, invitation)
        if row is None:
            return None
        return Inviter(sender_email=row["sender_email"], training_session=row["training_session"])

    async def organizers(self, training_session: str) -> list[str]:
        rows = await self._pool.fetch(ORGANIZERS_SQL, training_session)
        return [row["sender_email"] for row in rows]
