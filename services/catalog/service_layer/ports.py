"""What the catalog's use cases need from the outside: its repositories, as they use them.

Every repository hands out aggregates and takes them back to save; the unit of work collects
the events of all it has seen. The rules live on the aggregates, not here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Protocol

from services.catalog.domain.attendance import SessionAttendance, WebinarActivity
from services.catalog.domain.model import (
    Course,
    Level,
    Registration,
    ScheduledSession,
    TopicQuery,
    TrainingSession,
)


@dataclass(frozen=True)
class SessionFilter:
    """What ListTrainingSessions narrows the sessions to."""

    not_before: dt.datetime | None = None
    before: dt.datetime | None = None
    feature: str | None = None
    role: str | None = None
    level: Level | None = None
    course_id: uuid.UUID | None = None
    show_cancelled: bool = False


class CourseRepository(Protocol):
    async def add(self, course: Course, request_id: str | None) -> Course:
        """Store a new course; with a request id already used, the course that id created."""

    async def get(self, course_id: uuid.UUID, for_update: bool = False) -> Course | None: ...

    async def list_page(
        self, limit: int, after: tuple[str, uuid.UUID] | None, show_cancelled: bool
    ) -> list[Course]:
        """Courses by lower-cased title then id, after a keyset position."""

    async def save(self, course: Course) -> None: ...


class SessionRepository(Protocol):
    """Sessions, always read with their course."""

    async def add(self, session: TrainingSession, request_id: str | None) -> ScheduledSession:
        """Store a new session; with a request id already used, the session that id created."""

    async def get(
        self, session_id: uuid.UUID, for_update: bool = False
    ) -> ScheduledSession | None: ...

    async def save(self, scheduled: ScheduledSession) -> None:
        """Store the session's logistics and state; its seat count is `save_seats`'s."""

    async def save_seats(self, scheduled: ScheduledSession) -> None:
        """Store the seat count of a session read `for_update`."""

    async def list_page(
        self, f: SessionFilter, limit: int, after: tuple[dt.datetime, uuid.UUID] | None
    ) -> list[ScheduledSession]:
        """Sessions by (start time, id) matching the filter, after a keyset position."""

    async def with_webinar(
        self, webinar_id: str, for_update: bool = False
    ) -> list[ScheduledSession]:
        """The sessions (any state) naming the webinar tool's `webinar_id`, by start time."""

    async def upcoming_of(
        self, course: Course, now: dt.datetime, for_update: bool = False
    ) -> list[ScheduledSession]:
        """The scheduled sessions of `course` that start after `now`, soonest first, each with
        `course` as given."""

    async def search(
        self, query: TopicQuery, limit: int, not_before: dt.datetime | None
    ) -> list[tuple[ScheduledSession, float]]:
        """Scheduled sessions of active courses matching the words, with their relevance."""

    async def next_of_similar_courses(
        self, course: Course, now: dt.datetime, limit: int
    ) -> list[tuple[ScheduledSession, list[str]]]:
        """The next session of each other active course sharing features with `course`, with
        the features shared: most shared first, then soonest."""


class RegistrationRepository(Protocol):
    """Read under the session's row lock (`SessionRepository.get(for_update=True)`) whenever a
    registration may move, so that people registering at once count the seats in turn."""

    async def get(self, session_id: uuid.UUID, email: str) -> Registration | None:
        """One person's registration with their place on the waitlist, locked until the unit
        of work ends."""

    async def waitlist(self, session_id: uuid.UUID) -> list[Registration]:
        """The people waiting for a seat, first come first, with their places."""

    async def of_session(self, session_id: uuid.UUID) -> list[Registration]:
        """Everyone heard of for the session, in any state, by email (places not counted)."""

    async def save(self, registration: Registration) -> None: ...


class AttendanceRepository(Protocol):
    """A session's webinar activity, and the attendance results published for it."""

    async def add_activity(self, session_id: uuid.UUID, activity: WebinarActivity) -> None:
        """Keep one webinar activity of the session (once per event id)."""

    async def activities(self, session_id: uuid.UUID) -> list[WebinarActivity]:
        """Every activity kept for the session, in time order."""

    async def has_ended(self, session_id: uuid.UUID) -> bool:
        """Whether the session's webinar was heard to end."""

    async def sheet(self, session_id: uuid.UUID) -> SessionAttendance:
        """The results published for the session so far."""

    async def save(self, sheet: SessionAttendance) -> None:
        """Keep the results the sheet recorded as new."""
