"""A session's webinar activity and published attendance results in PostgreSQL (schema
`catalog`): tables `webinar_activity` and `attendance_results`."""

from __future__ import annotations

import uuid

from services.catalog.domain.attendance import REGISTERED, SessionAttendance, WebinarActivity
from services.catalog.domain.names import session_name
from services.common.db import Connection
from services.common.unit_of_work import Repository


class PostgresAttendanceRepository(Repository):
    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn

    async def add_activity(self, session_id: uuid.UUID, activity: WebinarActivity) -> None:
        await self._conn.execute(
            """
            INSERT INTO webinar_activity (event_id, occurrence_id, source, webinar_id,
                webinar_instance, kind, email, participant_id, occur_time)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (event_id) DO NOTHING
            """,
            activity.event_id,
            session_id,
            activity.source,
            activity.webinar_id,
            activity.webinar_instance,
            activity.kind,
            activity.email,
            activity.participant_id,
            activity.occur_time,
        )

    async def activities(self, session_id: uuid.UUID) -> list[WebinarActivity]:
        rows = await self._conn.fetch(
            """
            SELECT event_id, occur_time, source, webinar_id, kind, email, participant_id,
                   webinar_instance
            FROM webinar_activity WHERE occurrence_id = $1
            ORDER BY occur_time, event_id
            """,
            session_id,
        )
        return [
            WebinarActivity(
                event_id=r["event_id"],
                occur_time=r["occur_time"],
                source=r["source"],
                webinar_id=r["webinar_id"],
                kind=r["kind"],
                email=r["email"],
                participant_id=r["participant_id"],
                webinar_instance=r["webinar_instance"],
            )
            for r in rows
        ]

    async def has_ended(self, session_id: uuid.UUID) -> bool:
        ended: bool = await self._conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM webinar_activity"
            " WHERE occurrence_id = $1 AND kind = 'ended')",
            session_id,
        )
        return ended

    async def sheet(self, session_id: uuid.UUID) -> SessionAttendance:
        rows = await self._conn.fetch(
            "SELECT event_id, kind, recorded_at FROM attendance_results WHERE occurrence_id = $1",
            session_id,
        )
        stamps = [r["recorded_at"] for r in rows if r["kind"] != REGISTERED]
        return self.seen(
            SessionAttendance(
                session_id,
                session_name(session_id),
                published={r["event_id"] for r in rows},
                last_stamp=max(stamps, default=None),
            )
        )

    async def save(self, sheet: SessionAttendance) -> None:
        self.seen(sheet)
        # recorded_at is the time each result was published with (see SessionAttendance).
        await self._conn.executemany(
            """
            INSERT INTO attendance_results (event_id, occurrence_id, email, kind,
                minutes_attended, source, recorded_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (event_id) DO NOTHING
            """,
            [
                (
                    r.event_id,
                    sheet.occurrence_id,
                    r.result.email,
                    r.result.kind,
                    r.result.minutes,
                    r.source,
                    r.occur_time,
                )
                for r in sheet.new
            ],
        )
        sheet.new.clear()
