"""Who registered for, waits for, attended or missed each session, in PostgreSQL (schema
`catalog`). The waitlist's order is `waitlist_seq`; a place is its rank among the waiting."""

from __future__ import annotations

import uuid

import asyncpg

from services.catalog.domain.model import Registration
from services.common.db import Connection
from services.common.unit_of_work import Repository

_COLUMNS = """
    occurrence_id, email, state, waitlist_seq, invitation, updated_at,
    CASE WHEN state = 'waitlisted' THEN (
        SELECT count(*) FROM registrations w
        WHERE w.occurrence_id = r.occurrence_id AND w.state = 'waitlisted'
          AND w.waitlist_seq <= r.waitlist_seq
    ) ELSE 0 END AS waitlist_position
"""


def _registration(row: asyncpg.Record) -> Registration:
    return Registration(
        occurrence_id=row["occurrence_id"],
        email=row["email"],
        state=row["state"],
        waitlist_seq=row["waitlist_seq"],
        waitlist_position=row["waitlist_position"],
        invitation=row["invitation"],
        updated_at=row["updated_at"],
    )


class PostgresRegistrationRepository(Repository):
    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn

    async def get(self, session_id: uuid.UUID, email: str) -> Registration | None:
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM registrations r"
            " WHERE occurrence_id = $1 AND email = $2 FOR UPDATE",
            session_id,
            email,
        )
        return None if row is None else self.seen(_registration(row))

    async def waitlist(self, session_id: uuid.UUID) -> list[Registration]:
        rows = await self._conn.fetch(
            """
            SELECT occurrence_id, email, state, waitlist_seq, invitation, updated_at,
                   row_number() OVER (ORDER BY waitlist_seq) AS waitlist_position
            FROM registrations
            WHERE occurrence_id = $1 AND state = 'waitlisted'
            ORDER BY waitlist_seq
            """,
            session_id,
        )
        return [self.seen(_registration(row)) for row in rows]

    async def of_session(self, session_id: uuid.UUID) -> list[Registration]:
        rows = await self._conn.fetch(
            """
            SELECT occurrence_id, email, state, waitlist_seq, invitation, updated_at,
                   0 AS waitlist_position
            FROM registrations WHERE occurrence_id = $1 ORDER BY email
            """,
            session_id,
        )
        return [self.seen(_registration(row)) for row in rows]

    async def save(self, registration: Registration) -> None:
        self.seen(registration)
        await self._conn.execute(
            """
            INSERT INTO registrations
                (occurrence_id, email, state, waitlist_seq, invitation, updated_at)
            VALUES ($1, $2, $3, $4, $5, coalesce($6, now()))
            ON CONFLICT (occurrence_id, email) DO UPDATE
            SET state = $3, waitlist_seq = $4, invitation = $5, updated_at = coalesce($6, now())
            """,
            registration.occurrence_id,
            registration.email,
            registration.state,
            registration.waitlist_seq,
            registration.invitation,
            registration.updated_at,
        )
