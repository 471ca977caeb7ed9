"""Courses and sessions in PostgreSQL (schema `catalog`): rows to aggregates and back."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from services.catalog.domain.model import (
    Course,
    CourseState,
    Format,
    LearningOutcome,
    Level,
    ScheduledSession,
    SessionState,
    TopicQuery,
    TrainingSession,
)
from services.catalog.service_layer.ports import SessionFilter
from services.common.db import Connection
from services.common.unit_of_work import Repository

_COURSE_COLUMNS = """
    c.id AS c_id, c.title, c.topic, c.description, c.features, c.level, c.target_roles,
    c.format, c.duration_minutes, c.learning_outcomes, c.state AS c_state,
    c.version AS c_version, c.created_at AS c_created_at, c.updated_at AS c_updated_at
"""
_SESSION_COLUMNS = """
    o.id AS o_id, o.course_id, o.start_time, o.time_zone, o.capacity, o.join_url,
    o.registration_url, o.presenter, o.state AS o_state, o.cancel_reason, o.seats_taken,
    o.version AS o_version, o.created_at AS o_created_at, o.updated_at AS o_updated_at,
    o.webinar_id
"""
_SCHEDULED = f"""
    SELECT {_SESSION_COLUMNS}, {_COURSE_COLUMNS}
    FROM occurrences o JOIN courses c ON c.id = o.course_id
"""


def _course(row: asyncpg.Record) -> Course:
    return Course(
        id=row["c_id"],
        title=row["title"],
        topic=row["topic"],
        description=row["description"],
        features=tuple(row["features"]),
        level=Level(row["level"]),
        target_roles=tuple(row["target_roles"]),
        format=Format(row["format"]),
        duration=dt.timedelta(minutes=row["duration_minutes"]),
        learning_outcomes=tuple(LearningOutcome.from_json(o) for o in row["learning_outcomes"]),
        state=CourseState(row["c_state"]),
        version=row["c_version"],
        created_at=row["c_created_at"],
        updated_at=row["c_updated_at"],
    )


def _session(row: asyncpg.Record) -> TrainingSession:
    return TrainingSession(
        id=row["o_id"],
        course_id=row["course_id"],
        start_time=row["start_time"],
        time_zone=row["time_zone"],
        capacity=row["capacity"],
        join_url=row["join_url"],
        registration_url=row["registration_url"],
        presenter=row["presenter"],
        state=SessionState(row["o_state"]),
        cancel_reason=row["cancel_reason"],
        seats_taken=row["seats_taken"],
        webinar_id=row["webinar_id"],
        version=row["o_version"],
        created_at=row["o_created_at"],
        updated_at=row["o_updated_at"],
    )


def _scheduled(row: asyncpg.Record) -> ScheduledSession:
    return ScheduledSession(_session(row), _course(row))


def _outcomes(course: Course) -> list[dict[str, str]]:
    return [o.to_json() for o in course.learning_outcomes]


class PostgresCourseRepository(Repository):
    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn

    async def add(self, course: Course, request_id: str | None) -> Course:
        """Insert; with a request id already used, return the course that id created."""
        row = await self._conn.fetchrow(
            """
            INSERT INTO courses AS c (id, title, topic, description, features, level,
                target_roles, format, duration_minutes, learning_outcomes, request_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            ON CONFLICT (request_id) DO NOTHING
            RETURNING c.id
            """,
            course.id,
            course.title,
            course.topic,
            course.description,
            list(course.features),
            course.level.value,
            list(course.target_roles),
            course.format.value,
            int(course.duration.total_seconds() // 60),
            _outcomes(course),
            request_id,
        )
        if row is None:
            course_id = await self._conn.fetchval(
                "SELECT id FROM courses WHERE request_id = $1", request_id
            )
        else:
            course_id = row["id"]
        found = await self.get(course_id)
        assert found is not None
        return found

    async def get(self, course_id: uuid.UUID, for_update: bool = False) -> Course | None:
        lock = "FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(
            f"SELECT {_COURSE_COLUMNS} FROM courses c WHERE c.id = $1 {lock}", course_id
        )
        return None if row is None else self.seen(_course(row))

    async def list_page(
        self, limit: int, after: tuple[str, uuid.UUID] | None, show_cancelled: bool
    ) -> list[Course]:
        """Courses by title (case-insensitive), after a keyset position."""
        rows = await self._conn.fetch(
            f"""
            SELECT {_COURSE_COLUMNS} FROM courses c
            WHERE ($1 OR c.state = 'active')
              AND ($2::text IS NULL OR (lower(c.title), c.id) > ($2, $3::uuid))
            ORDER BY lower(c.title), c.id
            LIMIT $4
            """,
            show_cancelled,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )
        return [self.seen(_course(r)) for r in rows]

    async def save(self, course: Course) -> None:
        self.seen(course)
        await self._conn.execute(
            """
            UPDATE courses SET title = $2, topic = $3, description = $4, features = $5,
                level = $6, target_roles = $7, format = $8, duration_minutes = $9,
                learning_outcomes = $10, state = $11, version = $12, updated_at = $13
            WHERE id = $1
            """,
            course.id,
            course.title,
            course.topic,
            course.description,
            list(course.features),
            course.level.value,
            list(course.target_roles),
            course.format.value,
            int(course.duration.total_seconds() // 60),
            _outcomes(course),
            course.state.value,
            course.version,
            course.updated_at,
        )


class PostgresSessionRepository(Repository):
    """Sessions, always read with their course."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn

    async def add(self, session: TrainingSession, request_id: str | None) -> ScheduledSession:
        """Insert; with a request id already used, return the session that id created."""
        session_id = await self._conn.fetchval(
            """
            INSERT INTO occurrences (id, course_id, start_time, time_zone, capacity, join_url,
                registration_url, presenter, request_id, webinar_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (request_id) DO NOTHING
            RETURNING id
            """,
            session.id,
            session.course_id,
            session.start_time,
            session.time_zone,
            session.capacity,
            session.join_url,
            session.registration_url,
            session.presenter,
            request_id,
            session.webinar_id,
        )
        if session_id is None:
            session_id = await self._conn.fetchval(
                "SELECT id FROM occurrences WHERE request_id = $1", request_id
            )
        found = await self.get(session_id)
        assert found is not None
        return found

    async def get(self, session_id: uuid.UUID, for_update: bool = False) -> ScheduledSession | None:
        lock = "FOR UPDATE OF o" if for_update else ""
        row = await self._conn.fetchrow(f"{_SCHEDULED} WHERE o.id = $1 {lock}", session_id)
        return None if row is None else self.seen(_scheduled(row))

    async def save(self, scheduled: ScheduledSession) -> None:
        self.seen(scheduled)
        session = scheduled.session
        await self._conn.execute(
            """
            UPDATE occurrences SET start_time = $2, time_zone = $3, capacity = $4, join_url = $5,
                registration_url = $6, presenter = $7, state = $8, cancel_reason = $9,
                version = $10, updated_at = $11, webinar_id = $12
            WHERE id = $1
            """,
            session.id,
            session.start_time,
            session.time_zone,
            session.capacity,
            session.join_url,
            session.registration_url,
            session.presenter,
            session.state.value,
            session.cancel_reason,
            session.version,
            session.updated_at,
            session.webinar_id,
        )

    async def save_seats(self, scheduled: ScheduledSession) -> None:
        self.seen(scheduled)
        await self._conn.execute(
            "UPDATE occurrences SET seats_taken = $2 WHERE id = $1",
            scheduled.session.id,
            scheduled.session.seats_taken,
        )

    async def with_webinar(
        self, webinar_id: str, for_update: bool = False
    ) -> list[ScheduledSession]:
        lock = "FOR UPDATE OF o" if for_update else ""
        rows = await self._conn.fetch(
            f"{_SCHEDULED} WHERE o.webinar_id = $1 ORDER BY o.start_time, o.id {lock}",
            webinar_id,
        )
        return [self.seen(_scheduled(r)) for r in rows]

    async def list_page(
        self, f: SessionFilter, limit: int, after: tuple[dt.datetime, uuid.UUID] | None
    ) -> list[ScheduledSession]:
        """Sessions by (start time, id) matching the filter, after a keyset position."""
        rows = await self._conn.fetch(
            f"""
            {_SCHEDULED}
            WHERE ($1::timestamptz IS NULL OR o.start_time >= $1)
              AND ($2::timestamptz IS NULL OR o.start_time < $2)
              AND ($3::text IS NULL OR c.features @> ARRAY[$3::text])
              AND ($4::text IS NULL OR c.target_roles = '{{}}' OR c.target_roles @> ARRAY[$4::text])
              AND ($5::text IS NULL OR c.level = $5)
              AND ($6::uuid IS NULL OR o.course_id = $6)
              AND ($7 OR o.state = 'scheduled')
              AND ($8::timestamptz IS NULL OR (o.start_time, o.id) > ($8, $9::uuid))
            ORDER BY o.start_time, o.id
            LIMIT $10
            """,
            f.not_before,
            f.before,
            f.feature,
            f.role,
            f.level.value if f.level else None,
            f.course_id,
            f.show_cancelled,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )
        return [self.seen(_scheduled(r)) for r in rows]

    async def upcoming_of(
        self, course: Course, now: dt.datetime, for_update: bool = False
    ) -> list[ScheduledSession]:
        lock = "FOR UPDATE" if for_update else ""
        rows = await self._conn.fetch(
            f"""
            SELECT {_SESSION_COLUMNS} FROM occurrences o
            WHERE o.course_id = $1 AND o.state = 'scheduled' AND o.start_time > $2
            ORDER BY o.start_time
            {lock}
            """,
            course.id,
            now,
        )
        return [self.seen(ScheduledSession(_session(r), course)) for r in rows]

    async def search(
        self, query: TopicQuery, limit: int, not_before: dt.datetime | None
    ) -> list[tuple[ScheduledSession, float]]:
        """Scheduled sessions of the courses matching the words (any of them) or their trigrams.

        Courses are matched through their indexes (text search and trigrams) and ranked first,
        so relevance is computed once per course, not per session: the text-search rank (title
        and topic weigh most), the trigram word similarity, and a bonus for a title or topic
        equal to the words, so the exact course comes first. Only the best `limit` courses that
        have a session in range are joined to their sessions.
        """
        rows = await self._conn.fetch(
            f"""
            WITH q AS (
                SELECT NULLIF(replace(plainto_tsquery('english', $1)::text, '&', '|'), '')::tsquery
                           AS tsq,
                       lower($1) AS words
            ), ranked AS MATERIALIZED (
                SELECT c.id,
                       coalesce(ts_rank(c.search_document, q.tsq), 0)
                       + public.word_similarity(q.words, c.search_title)
                       + CASE WHEN lower(c.topic) = q.words OR lower(c.title) = q.words
                              THEN 1 ELSE 0 END AS relevance
                FROM courses c, q
                WHERE c.state = 'active'
                  AND (c.search_document @@ q.tsq OR q.words OPERATOR(public.<%) c.search_title)
                  AND EXISTS (
                      SELECT 1 FROM occurrences o
                      WHERE o.course_id = c.id AND o.state = 'scheduled'
                        AND ($2::timestamptz IS NULL OR o.start_time >= $2))
                ORDER BY relevance DESC
                LIMIT $3
            )
            SELECT {_SESSION_COLUMNS}, {_COURSE_COLUMNS}, m.relevance
            FROM ranked m
            JOIN courses c ON c.id = m.id
            JOIN occurrences o ON o.course_id = m.id
            WHERE o.state = 'scheduled' AND ($2::timestamptz IS NULL OR o.start_time >= $2)
            ORDER BY m.relevance DESC, o.start_time, o.id
            LIMIT $3
            """,
            query.text,
            not_before,
            limit,
        )
        return [(self.seen(_scheduled(r)), float(r["relevance"])) for r in rows]

    async def next_of_similar_courses(
        self, course: Course, now: dt.datetime, limit: int
    ) -> list[tuple[ScheduledSession, list[str]]]:
        """The next session of each other course sharing features: most shared, then soonest."""
        rows = await self._conn.fetch(
            f"""
            SELECT * FROM (
                SELECT DISTINCT ON (c.id) {_SESSION_COLUMNS}, {_COURSE_COLUMNS},
                       ARRAY(SELECT unnest(c.features) INTERSECT SELECT unnest($2::text[]))
                           AS shared
                FROM courses c
                JOIN occurrences o ON o.course_id = c.id
                WHERE c.id <> $1 AND c.state = 'active' AND c.features && $2::text[]
                  AND o.state = 'scheduled' AND o.start_time > $3
                ORDER BY c.id, o.start_time
            ) nearest
            ORDER BY cardinality(shared) DESC, start_time
            LIMIT $4
            """,
            course.id,
            list(course.features),
            now,
            limit,
        )
        return [(self.seen(_scheduled(r)), sorted(r["shared"])) for r in rows]
