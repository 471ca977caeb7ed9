"""Training sessions in PostgreSQL (schema `catalog`)."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from services.catalog.domain.model import (
    Format,
    LearningOutcome,
    Level,
    State,
    TopicQuery,
    TrainingSession,
)
from services.common.db import Connection

_COLUMNS = """
    id, title, topic, description, features, level, target_roles, format, start_time, time_zone,
    duration_minutes, capacity, join_url, registration_url, presenter, state, learning_outcomes,
    version, created_at, updated_at
"""


def _to_session(row: asyncpg.Record) -> TrainingSession:
    return TrainingSession(
        id=row["id"],
        title=row["title"],
        topic=row["topic"],
        description=row["description"],
        features=tuple(row["features"]),
        level=Level(row["level"]),
        target_roles=tuple(row["target_roles"]),
        format=Format(row["format"]),
        start_time=row["start_time"],
        time_zone=row["time_zone"],
        duration=dt.timedelta(minutes=row["duration_minutes"]),
        capacity=row["capacity"],
        join_url=row["join_url"],
        registration_url=row["registration_url"],
        presenter=row["presenter"],
        state=State(row["state"]),
        learning_outcomes=tuple(LearningOutcome(**o) for o in row["learning_outcomes"]),
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class SessionRepository:
    """Reads and writes sessions on one connection (inside a unit of work's transaction)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, session: TrainingSession, request_id: str | None) -> TrainingSession:
        """Insert; with a request id already used, return the session that id created."""
        row = await self._conn.fetchrow(
            f"""
            INSERT INTO training_sessions (
                id, title, topic, description, features, level, target_roles, format,
                start_time, time_zone, duration_minutes, capacity, join_url, registration_url,
                presenter, state, learning_outcomes, request_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
            ON CONFLICT (request_id) DO NOTHING
            RETURNING {_COLUMNS}
            """,
            session.id,
            session.title,
            session.topic,
            session.description,
            list(session.features),
            session.level.value,
            list(session.target_roles),
            session.format.value,
            session.start_time,
            session.time_zone,
            int(session.duration.total_seconds() // 60),
            session.capacity,
            session.join_url,
            session.registration_url,
            session.presenter,
            session.state.value,
            [{"feature": o.feature, "text": o.text} for o in session.learning_outcomes],
            request_id,
        )
        if row is None:  # the request id was used before: the retried create's first result
            row = await self._conn.fetchrow(
                f"SELECT {_COLUMNS} FROM training_sessions WHERE request_id = $1", request_id
            )
        assert row is not None
        return _to_session(row)

    async def get(self, session_id: uuid.UUID) -> TrainingSession | None:
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM training_sessions WHERE id = $1", session_id
        )
        return None if row is None else _to_session(row)

    async def list_by_start(
        self,
        limit: int,
        after: tuple[dt.datetime, uuid.UUID] | None,
        not_before: dt.datetime | None,
    ) -> list[TrainingSession]:
        """Sessions in (start_time, id) order, after a keyset position, from `not_before` on."""
        rows = await self._conn.fetch(
            f"""
            SELECT {_COLUMNS} FROM training_sessions
            WHERE ($1::timestamptz IS NULL OR start_time >= $1)
              AND ($2::timestamptz IS NULL OR (start_time, id) > ($2, $3::uuid))
            ORDER BY start_time, id
            LIMIT $4
            """,
            not_before,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )
        return [_to_session(r) for r in rows]

    async def search(
        self, query: TopicQuery, limit: int, not_before: dt.datetime | None
    ) -> list[tuple[TrainingSession, float]]:
        """Scheduled sessions matching the words (any of them) or, for typos, their trigrams.

        Relevance adds the text-search rank (title and topic weigh most) to the trigram word
        similarity of the query to the title and topic, so the exact course comes first.
        """
        rows = await self._conn.fetch(
            f"""
            WITH q AS (
                SELECT NULLIF(replace(plainto_tsquery('english', $1)::text, '&', '|'), '')::tsquery
                           AS tsq,
                       lower($1) AS words
            )
            SELECT {_COLUMNS},
                   coalesce(ts_rank(s.search_document, q.tsq), 0)
                   + public.word_similarity(q.words, s.search_title) AS relevance
            FROM training_sessions s, q
            WHERE s.state = 'scheduled'
              AND ($2::timestamptz IS NULL OR s.start_time >= $2)
              AND (s.search_document @@ q.tsq OR q.words OPERATOR(public.<%) s.search_title)
            ORDER BY relevance DESC, s.start_time
            LIMIT $3
            """,
            query.text,
            not_before,
            limit,
        )
        return [(_to_session(r), float(r["relevance"])) for r in rows]
