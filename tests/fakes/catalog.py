"""The catalog's repositories and unit of work in memory, for the handler unit tests.

They keep what the SQL ones keep and answer the same questions, ordered the same way; search
ranks by the number of query words a course mentions, enough to tell matches from the rest.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field, replace

from services.catalog.domain.attendance import (
    RecordedResult,
    SessionAttendance,
    WebinarActivity,
)
from services.catalog.domain.model import (
    Course,
    CourseState,
    Registration,
    ScheduledSession,
    SessionState,
    TopicQuery,
    TrainingSession,
)
from services.catalog.domain.names import session_name
from services.catalog.service_layer.ports import SessionFilter
from services.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from services.common.clock import Clock, utc_now
from services.common.unit_of_work import Repository
from tests.fakes.unit_of_work import FakeStore, FakeUnitOfWork


@dataclass
class CatalogStore(FakeStore):
    """The catalog's tables. `clock` stands for the database's now() in created_at."""

    clock: Clock = utc_now
    courses: dict[uuid.UUID, Course] = field(default_factory=dict)
    sessions: dict[uuid.UUID, TrainingSession] = field(default_factory=dict)
    registrations: dict[tuple[uuid.UUID, str], Registration] = field(default_factory=dict)
    course_requests: dict[str, uuid.UUID] = field(default_factory=dict)
    session_requests: dict[str, uuid.UUID] = field(default_factory=dict)
    webinar_activity: dict[uuid.UUID, tuple[uuid.UUID, WebinarActivity]] = field(
        default_factory=dict
    )
    attendance_results: dict[uuid.UUID, tuple[uuid.UUID, RecordedResult]] = field(
        default_factory=dict
    )

    def scheduled(self, session_id: uuid.UUID) -> ScheduledSession:
        """A fresh copy of what a read would return."""
        session = self.sessions[session_id]
        return ScheduledSession(session, replace(self.courses[session.course_id]))


class FakeCourseRepository(Repository):
    def __init__(self, store: CatalogStore) -> None:
        super().__init__()
        self._store = store

    async def add(self, course: Course, request_id: str | None) -> Course:
        if request_id is not None and request_id in self._store.course_requests:
            course_id = self._store.course_requests[request_id]
        else:
            now = self._store.clock()
            self._store.courses[course.id] = replace(course, created_at=now, updated_at=now)
            course_id = course.id
            if request_id is not None:
                self._store.course_requests[request_id] = course_id
        return self.seen(replace(self._store.courses[course_id]))

    async def get(self, course_id: uuid.UUID, for_update: bool = False) -> Course | None:
        course = self._store.courses.get(course_id)
        return None if course is None else self.seen(replace(course))

    async def list_page(
        self, limit: int, after: tuple[str, uuid.UUID] | None, show_cancelled: bool
    ) -> list[Course]:
        found = sorted(
            (
                c
                for c in self._store.courses.values()
                if (show_cancelled or c.state is CourseState.ACTIVE)
                and (after is None or (c.title.lower(), c.id) > after)
            ),
            key=lambda c: (c.title.lower(), c.id),
        )
        return [self.seen(replace(c)) for c in found[:limit]]

    async def save(self, course: Course) -> None:
        self.seen(course)
        self._store.courses[course.id] = replace(course)


class FakeSessionRepository(Repository):
    def __init__(self, store: CatalogStore) -> None:
        super().__init__()
        self._store = store

    async def add(self, session: TrainingSession, request_id: str | None) -> ScheduledSession:
        if request_id is not None and request_id in self._store.session_requests:
            session_id = self._store.session_requests[request_id]
        else:
            now = self._store.clock()
            self._store.sessions[session.id] = replace(session, created_at=now, updated_at=now)
            session_id = session.id
            if request_id is not None:
                self._store.session_requests[request_id] = session_id
        return self.seen(self._store.scheduled(session_id))

    async def get(self, session_id: uuid.UUID, for_update: bool = False) -> ScheduledSession | None:
        if session_id not in self._store.sessions:
            return None
        return self.seen(self._store.scheduled(session_id))

    async def save(self, scheduled: ScheduledSession) -> None:
        self.seen(scheduled)
        stored = self._store.sessions[scheduled.session.id]
        # As in SQL, the seat count is save_seats' alone.
        self._store.sessions[stored.id] = replace(scheduled.session, seats_taken=stored.seats_taken)

    async def save_seats(self, scheduled: ScheduledSession) -> None:
        self.seen(scheduled)
        stored = self._store.sessions[scheduled.session.id]
        self._store.sessions[stored.id] = replace(stored, seats_taken=scheduled.session.seats_taken)

    def _all(self) -> list[ScheduledSession]:
        return sorted(
            (self._store.scheduled(i) for i in self._store.sessions),
            key=lambda s: (s.session.start_time, s.session.id),
        )

    async def with_webinar(
        self, webinar_id: str, for_update: bool = False
    ) -> list[ScheduledSession]:
        return [self.seen(s) for s in self._all() if s.session.webinar_id == webinar_id]

    async def list_page(
        self, f: SessionFilter, limit: int, after: tuple[dt.datetime, uuid.UUID] | None
    ) -> list[ScheduledSession]:
        def matches(s: TrainingSession, c: Course) -> bool:
            return (
                (f.not_before is None or s.start_time >= f.not_before)
                and (f.before is None or s.start_time < f.before)
                and (f.feature is None or f.feature in c.features)
                and (f.role is None or not c.target_roles or f.role in c.target_roles)
                and (f.level is None or c.level is f.level)
                and (f.course_id is None or s.course_id == f.course_id)
                and (f.show_cancelled or s.state is SessionState.SCHEDULED)
                and (after is None or (s.start_time, s.id) > after)
            )

        found = [s for s in self._all() if matches(s.session, s.course)]
        return [self.seen(s) for s in found[:limit]]

    async def upcoming_of(
        self, course: Course, now: dt.datetime, for_update: bool = False
    ) -> list[ScheduledSession]:
        return [
            self.seen(ScheduledSession(s.session, course))
            for s in self._all()
            if s.session.course_id == course.id
            and s.session.state is SessionState.SCHEDULED
            and s.session.start_time > now
        ]

    async def search(
        self, query: TopicQuery, limit: int, not_before: dt.datetime | None
    ) -> list[tuple[ScheduledSession, float]]:
        def relevance(c: Course) -> float:
            text = " ".join((c.title, c.topic, c.description, *c.features)).lower()
            return float(sum(term in text for term in query.terms))

        found = [
            (s, relevance(s.course))
            for s in self._all()
            if s.course.state is CourseState.ACTIVE
            and s.session.state is SessionState.SCHEDULED
            and (not_before is None or s.session.start_time >= not_before)
            and relevance(s.course) > 0
        ]
        found.sort(key=lambda pair: -pair[1])
        return [(self.seen(s), r) for s, r in found[:limit]]

    async def next_of_similar_courses(
        self, course: Course, now: dt.datetime, limit: int
    ) -> list[tuple[ScheduledSession, list[str]]]:
        nearest: dict[uuid.UUID, ScheduledSession] = {}
        for s in self._all():
            c = s.course
            if (
                c.id != course.id
                and c.state is CourseState.ACTIVE
                and set(c.features) & set(course.features)
                and s.session.state is SessionState.SCHEDULED
                and s.session.start_time > now
            ):
                nearest.setdefault(c.id, s)
        ranked = sorted(
            ((s, sorted(set(s.course.features) & set(course.features))) for s in nearest.values()),
            key=lambda pair: (-len(pair[1]), pair[0].session.start_time),
        )
        return [(self.seen(s), shared) for s, shared in ranked[:limit]]


class FakeRegistrationRepository(Repository):
    def __init__(self, store: CatalogStore) -> None:
        super().__init__()
        self._store = store

    def _waiting(self, session_id: uuid.UUID) -> list[Registration]:
        waiting = [
            r
            for (sid, _), r in self._store.registrations.items()
            if sid == session_id and r.state == "waitlisted"
        ]
        waiting.sort(key=lambda r: r.waitlist_seq or 0)
        return [replace(r, waitlist_position=i) for i, r in enumerate(waiting, start=1)]

    async def get(self, session_id: uuid.UUID, email: str) -> Registration | None:
        found = self._store.registrations.get((session_id, email))
        if found is None:
            return None
        placed = {r.email: r for r in self._waiting(session_id)}
        return self.seen(placed.get(email, replace(found, waitlist_position=0)))

    async def waitlist(self, session_id: uuid.UUID) -> list[Registration]:
        return [self.seen(r) for r in self._waiting(session_id)]

    async def of_session(self, session_id: uuid.UUID) -> list[Registration]:
        found = [r for (sid, _), r in self._store.registrations.items() if sid == session_id]
        return [self.seen(replace(r)) for r in sorted(found, key=lambda r: r.email)]

    async def save(self, registration: Registration) -> None:
        self.seen(registration)
        assert registration.state is not None, "a registration is saved with its state"
        assert (registration.state == "waitlisted") == (registration.waitlist_seq is not None)
        key = (registration.occurrence_id, registration.email)
        if registration.state == "waitlisted":
            # As the partial unique index: no two people share a place.
            assert all(
                r.waitlist_seq != registration.waitlist_seq
                for r in self._waiting(registration.occurrence_id)
                if r.email != registration.email
            )
        stored = registration.updated_at or self._store.clock()
        self._store.registrations[key] = replace(
            registration, waitlist_position=0, updated_at=stored
        )


class FakeAttendanceRepository(Repository):
    def __init__(self, store: CatalogStore) -> None:
        super().__init__()
        self._store = store

    async def add_activity(self, session_id: uuid.UUID, activity: WebinarActivity) -> None:
        self._store.webinar_activity.setdefault(activity.event_id, (session_id, activity))

    async def activities(self, session_id: uuid.UUID) -> list[WebinarActivity]:
        found = [a for sid, a in self._store.webinar_activity.values() if sid == session_id]
        return sorted(found, key=lambda a: (a.occur_time, a.event_id))

    async def has_ended(self, session_id: uuid.UUID) -> bool:
        return any(a.kind == "ended" for a in await self.activities(session_id))

    async def sheet(self, session_id: uuid.UUID) -> SessionAttendance:
        mine = {
            event_id: recorded
            for event_id, (sid, recorded) in self._store.attendance_results.items()
            if sid == session_id
        }
        stamps = [r.occur_time for r in mine.values() if r.result.kind != "registered"]
        return self.seen(
            SessionAttendance(
                session_id, session_name(session_id), set(mine), max(stamps, default=None)
            )
        )

    async def save(self, sheet: SessionAttendance) -> None:
        self.seen(sheet)
        for recorded in sheet.new:
            assert recorded.event_id not in self._store.attendance_results, "as the primary key"
            self._store.attendance_results[recorded.event_id] = (sheet.occurrence_id, recorded)
        sheet.new.clear()


class FakeCatalogUnitOfWork(FakeUnitOfWork, CatalogUnitOfWork):
    def __init__(self, store: CatalogStore) -> None:
        super().__init__(store)
        self.courses = courses = FakeCourseRepository(store)
        self.sessions = sessions = FakeSessionRepository(store)
        self.registrations = registrations = FakeRegistrationRepository(store)
        self.attendance = attendance = FakeAttendanceRepository(store)
        self._repositories: list[Repository] = [courses, sessions, registrations, attendance]

    def repositories(self) -> list[Repository]:
        return self._repositories
