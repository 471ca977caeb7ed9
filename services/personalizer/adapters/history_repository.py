"""Each person's training history, kept from attendance events, and the suppressed addresses."""

from __future__ import annotations

from services.common.db import Connection
from services.common.unit_of_work import Repository
from services.personalizer.domain.model import TrainingRecord


class PostgresHistoryRepository(Repository):
    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn

    async def state(self, stakeholder_id: str, training_session: str) -> str | None:
        """The person's registration state for the session, locked until the transaction
        ends; None when there is none."""
        value: str | None = await self._conn.fetchval(
            """
            SELECT state FROM training_history
            WHERE stakeholder_id = $1 AND training_session = $2 FOR UPDATE
            """,
            stakeholder_id,
            training_session,
        )
        return value

    async def put(self, record: TrainingRecord) -> None:
        """Store the person's state for the session; a known session keeps its details."""
        await self._conn.execute(
            """
            INSERT INTO training_history (stakeholder_id, training_session, course, course_title,
                features, state, session_start)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (stakeholder_id, training_session)
            DO UPDATE SET state = $6, updated_at = now()
            """,
            record.stakeholder_id,
            record.training_session,
            record.course,
            record.course_title,
            list(record.features),
            record.state,
            record.session_start,
        )

    async def for_people(self, stakeholder_ids: list[str]) -> list[TrainingRecord]:
        """Registered and attended trainings of these people (not cancelled or missed)."""
        rows = await self._conn.fetch(
            """
            SELECT stakeholder_id, training_session, course, course_title, features, state,
                   session_start
            FROM training_history
            WHERE stakeholder_id = ANY($1::text[]) AND state IN ('registered', 'attended')
            """,
            stakeholder_ids,
        )
        return [
            TrainingRecord(
                r["stakeholder_id"],
                r["training_session"],
                r["course"],
                r["course_title"],
                tuple(r["features"]),
                r["state"],
                r["session_start"],
            )
            for r in rows
        ]


class PostgresSuppressionRepository(Repository):
    """Addresses never to be emailed, as the dispatcher announced them."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn

    async def add(self, email: str, reason: str) -> None:
        await self._conn.execute(
            """
            INSERT INTO suppressed_addresses (email, reason) VALUES (lower($1), $2)
            ON CONFLICT (email) DO NOTHING
            """,
            email,
            reason,
        )

    async def reasons(self, emails: list[str]) -> dict[str, str]:
        """lower-cased address -> why it is suppressed, for those that are."""
        rows = await self._conn.fetch(
            "SELECT email, reason FROM suppressed_addresses WHERE email = ANY($1::text[])",
            [e.lower() for e in emails],
        )
        return {r["email"]: r["reason"] for r in rows}
