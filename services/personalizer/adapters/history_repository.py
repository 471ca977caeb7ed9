"""Each person's training history, kept from attendance events."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from services.common.attendance import registration_transition
from services.common.db import Connection


@dataclass(frozen=True)
class TrainingRecord:
    stakeholder_id: str
    training_session: str
    course: str
    course_title: str
    features: tuple[str, ...]
    state: str
    session_start: dt.datetime


class HistoryRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def first_time(self, event_id: uuid.UUID) -> bool:
        """Mark an event processed; False when it was before."""
        inserted = await self._conn.fetchval(
            """
            INSERT INTO processed_events (event_id) VALUES ($1)
            ON CONFLICT DO NOTHING RETURNING true
            """,
            event_id,
        )
        return bool(inserted)

    async def apply(self, record: TrainingRecord, kind: str) -> None:
        """Move the person's state for the session as the event says (never backwards)."""
        current = await self._conn.fetchval(
            """
            SELECT state FROM training_history
            WHERE stakeholder_id = $1 AND training_session = $2 FOR UPDATE
            """,
            record.stakeholder_id,
            record.training_session,
        )
        target = registration_transition(current, kind)
        if target is None:
            return
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
            target,
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


class SuppressionRepository:
    """Addresses never to be emailed, as the dispatcher announced them."""

    def __init__(self, conn: Connection) -> None:
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
