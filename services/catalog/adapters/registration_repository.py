"""Who registered for, attended or missed each session, in PostgreSQL (schema `catalog`)."""

from __future__ import annotations

import uuid

from services.catalog.domain.model import Registration
from services.common.db import Connection
from services.common.unit_of_work import Repository


class PostgresRegistrationRepository(Repository):
    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn

    async def get(self, session_id: uuid.UUID, email: str) -> Registration | None:
        state = await self._conn.fetchval(
            "SELECT state FROM registrations WHERE occurrence_id = $1 AND email = $2 FOR UPDATE",
            session_id,
            email,
        )
        return None if state is None else self.seen(Registration(session_id, email, state))

    async def save(self, registration: Registration) -> None:
        self.seen(registration)
        await self._conn.execute(
            """
            INSERT INTO registrations (occurrence_id, email, state) VALUES ($1, $2, $3)
            ON CONFLICT (occurrence_id, email) DO UPDATE SET state = $3, updated_at = now()
            """,
            registration.occurrence_id,
            registration.email,
            registration.state,
        )
