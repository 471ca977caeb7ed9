"""The catalog's use cases, one function each."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from services.catalog.adapters.repository import SessionFilter
from services.catalog.domain.model import (
    ChangeKind,
    Course,
    CourseState,
    Level,
    ScheduledSession,
    SessionChanged,
    TrainingSession,
    cancel_session,
    check_etag,
    parse_course_name,
    parse_session_name,
    topic_query,
    update_course,
    update_session,
    validate_course,
    validate_session,
)
from services.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from services.common import page_tokens
from services.common.attendance import ensure_possible_now
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound, Violations
from services.common.outbox import OutboxMessage

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
DEFAULT_SEARCH_SIZE = 10
MAX_SEARCH_SIZE = 50
DEFAULT_ALTERNATIVES = 5
MAX_ALTERNATIVES = 50


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Dependencies:
    uow: Callable[[], CatalogUnitOfWork]
    encode_changed: Callable[[SessionChanged], OutboxMessage]
    clock: Callable[[], dt.datetime] = utc_now


def _changed(
    deps: Dependencies,
    uow: CatalogUnitOfWork,
    kind: ChangeKind,
    scheduled: ScheduledSession,
    by: str,
    previous: TrainingSession | None = None,
    reason: str = "",
) -> None:
    uow.publish(
        deps.encode_changed(
            SessionChanged(
                event_id=uuid.uuid4(),
                kind=kind,
                scheduled=scheduled,
                previous_start_time=previous.start_time if previous else None,
                previous_time_zone=previous.time_zone if previous else "",
                reason=reason,
                changed_by=by,
            )
        )
    )


# Courses ------------------------------------------------------------------------------------


async def create_course(deps: Dependencies, course: Course, request_id: str) -> Course:
    """Validate and store a new course; a repeated request id returns the first result."""
    validate_course(course)
    async with deps.uow() as uow:
        stored = await uow.courses.add(replace(course, id=uuid.uuid4()), request_id or None)
        await uow.commit()
    return stored


async def get_course(deps: Dependencies, name: str) -> Course:
    course_id = parse_course_name(name)
    async with deps.uow() as uow:
        course = await uow.courses.get(course_id)
    if course is None:
        raise NotFound(f"{name} does not exist")
    return course


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_page_token: str


async def list_courses(deps: Dependencies, size: int, token: str, show_cancelled: bool) -> Page:
    """Courses by title, one page at a time."""
    limit = page_tokens.page_size(size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    query = {"courses": True, "show_cancelled": show_cancelled}
    after = None
    if token:
        p = page_tokens.decode(token, query)
        after = (str(p["t"]), uuid.UUID(p["i"]))
    async with deps.uow() as uow:
        courses = await uow.courses.list_page(limit + 1, after, show_cancelled)
    more = len(courses) > limit
    courses = courses[:limit]
    last = courses[-1] if courses else None
    next_token = (
        page_tokens.encode({"t": last.title.lower(), "i": str(last.id)}, query)
        if more and last
        else ""
    )
    return Page(courses, next_token)


async def change_course(
    deps: Dependencies, name: str, changes: dict[str, Any], paths: list[str], etag: str, by: str
) -> Course:
    """Update the masked fields; a new duration is news to every upcoming session's invitees."""
    course_id = parse_course_name(name, "course.name")
    now = deps.clock()
    async with deps.uow() as uow:
        course = await uow.courses.get(course_id, for_update=True)
        if course is None:
            raise NotFound(f"{name} does not exist")
        updated = update_course(course, changes, paths, etag, now)
        await uow.courses.save(updated)
        if updated.duration != course.duration:
            for session in await uow.sessions.upcoming_of_course(course_id, now):
                _changed(deps, uow, ChangeKind.UPDATED, ScheduledSession(session, updated), by)
        await uow.commit()
    return updated


async def cancel_course(deps: Dependencies, name: str, etag: str, by: str) -> Course:
    """Retire a course and cancel its upcoming sessions, each cancellation published."""
    course_id = parse_course_name(name)
    now = deps.clock()
    async with deps.uow() as uow:
        course = await uow.courses.get(course_id, for_update=True)
        if course is None:
            raise NotFound(f"{name} does not exist")
        if course.state is CourseState.CANCELLED:
            return course
        check_etag(etag, course.etag, course.name)
        cancelled = replace(
            course, state=CourseState.CANCELLED, version=course.version + 1, updated_at=now
        )
        await uow.courses.save(cancelled)
        for session in await uow.sessions.upcoming_of_course(course_id, now):
            ended = cancel_session(session, "", "the course was cancelled", now)
            assert ended is not None
            await uow.sessions.save(ended)
            _changed(
                deps,
                uow,
                ChangeKind.CANCELLED,
                ScheduledSession(ended, cancelled),
                by,
                reason=ended.cancel_reason,
            )
        await uow.commit()
    return cancelled


# Sessions -----------------------------------------------------------------------------------


async def create_session(
    deps: Dependencies, session: TrainingSession, request_id: str
) -> ScheduledSession:
    """Schedule a session of an active course; a repeated request id returns the first result."""
    validate_session(session, deps.clock())
    async with deps.uow() as uow:
        course = await uow.courses.get(session.course_id)
        if course is None:
            raise NotFound(f"{session.course_name} does not exist")
        if course.state is CourseState.CANCELLED:
            raise FailedPrecondition(f"{course.name} is cancelled")
        stored = await uow.sessions.add(replace(session, id=uuid.uuid4()), request_id or None)
        await uow.commit()
    return stored


async def get_session(deps: Dependencies, name: str) -> ScheduledSession:
    session_id = parse_session_name(name)
    async with deps.uow() as uow:
        found = await uow.sessions.get(session_id)
    if found is None:
        raise NotFound(f"{name} does not exist")
    return found


@dataclass(frozen=True)
class SessionQuery:
    """ListTrainingSessions' filters as the caller gave them."""

    include_past: bool = False
    feature: str = ""
    role: str = ""
    level: Level | None = None
    start_after: dt.datetime | None = None
    start_before: dt.datetime | None = None
    course: str = ""
    show_cancelled: bool = False


async def list_sessions(deps: Dependencies, q: SessionQuery, size: int, token: str) -> Page:
    """Sessions by start time matching the filters, one page at a time."""
    limit = page_tokens.page_size(size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    v = Violations()
    course_id = None
    if q.course:
        try:
            course_id = parse_course_name(q.course, "course")
        except InvalidArgument as exc:
            v.extend(exc)
    if q.start_after and q.start_before and q.start_before <= q.start_after:
        v.add("start_before", "must be after start_after")
    v.raise_if_any()
    now = deps.clock()
    bounds = [t for t in (None if q.include_past else now, q.start_after) if t is not None]
    f = SessionFilter(
        not_before=max(bounds) if bounds else None,
        before=q.start_before,
        feature=q.feature or None,
        role=q.role or None,
        level=q.level,
        course_id=course_id,
        show_cancelled=q.show_cancelled,
    )
    # The token is bound to the filters, not to `now`, so paging on later stays consistent.
    query = {**q.__dict__, "level": q.level.value if q.level else None}
    after = None
    if token:
        p = page_tokens.decode(token, query)
        after = (dt.datetime.fromisoformat(p["s"]), uuid.UUID(p["i"]))
    async with deps.uow() as uow:
        found = await uow.sessions.list_page(f, limit + 1, after)
    more = len(found) > limit
    found = found[:limit]
    next_token = ""
    if more:
        last = found[-1].session
        next_token = page_tokens.encode(
            {"s": last.start_time.isoformat(), "i": str(last.id)}, query
        )
    return Page(found, next_token)


async def change_session(
    deps: Dependencies, name: str, changes: dict[str, Any], paths: list[str], etag: str, by: str
) -> ScheduledSession:
    """Reschedule or change logistics; invitees hear of a new time or new logistics."""
    session_id = parse_session_name(name, "training_session.name")
    now = deps.clock()
    async with deps.uow() as uow:
        found = await uow.sessions.get(session_id, for_update=True)
        if found is None:
            raise NotFound(f"{name} does not exist")
        updated, kind = update_session(found.session, changes, paths, etag, now)
        if updated.capacity and updated.capacity < found.session.seats_taken:
            raise FailedPrecondition(
                f"{found.session.seats_taken} people are registered; capacity cannot go below that"
            )
        await uow.sessions.save(updated)
        result = ScheduledSession(updated, found.course)
        if kind is not None:
            _changed(deps, uow, kind, result, by, previous=found.session)
        await uow.commit()
    return result


async def cancel(
    deps: Dependencies, name: str, etag: str, reason: str, by: str
) -> ScheduledSession:
    """Cancel a session once; the cancellation is published."""
    session_id = parse_session_name(name)
    now = deps.clock()
    async with deps.uow() as uow:
        found = await uow.sessions.get(session_id, for_update=True)
        if found is None:
            raise NotFound(f"{name} does not exist")
        cancelled = cancel_session(found.session, etag, reason, now)
        if cancelled is None:
            return found
        await uow.sessions.save(cancelled)
        result = ScheduledSession(cancelled, found.course)
        _changed(deps, uow, ChangeKind.CANCELLED, result, by, reason=reason)
        await uow.commit()
    return result


async def search_sessions(
    deps: Dependencies, query: str, size: int, include_past: bool
) -> list[tuple[ScheduledSession, float]]:
    """Sessions for a CSM's free text, best match first."""
    v = Violations()
    if not query.strip():
        v.add("query", "must not be empty")
    if len(query) > 200:
        v.add("query", "must be at most 200 characters")
    v.raise_if_any()
    limit = page_tokens.page_size(size, DEFAULT_SEARCH_SIZE, MAX_SEARCH_SIZE)
    async with deps.uow() as uow:
        return await uow.sessions.search(
            topic_query(query), limit, None if include_past else deps.clock()
        )


@dataclass(frozen=True)
class Alternative:
    scheduled: ScheduledSession
    same_course: bool
    shared_features: list[str]


async def alternatives(deps: Dependencies, name: str, size: int) -> list[Alternative]:
    """Other upcoming dates of the same course; when none, the nearest courses on its features."""
    session_id = parse_session_name(name)
    limit = page_tokens.page_size(size, DEFAULT_ALTERNATIVES, MAX_ALTERNATIVES)
    now = deps.clock()
    async with deps.uow() as uow:
        found = await uow.sessions.get(session_id)
        if found is None:
            raise NotFound(f"{name} does not exist")
        course = found.course
        same = [
            s for s in await uow.sessions.upcoming_of_course(course.id, now) if s.id != session_id
        ][:limit]
        if same:
            return [
                Alternative(ScheduledSession(s, course), True, sorted(course.features))
                for s in same
            ]
        similar = await uow.sessions.next_of_similar_courses(course, now, limit)
    return [Alternative(s, False, shared) for s, shared in similar]


async def record_registration(
    deps: Dependencies, event_id: uuid.UUID, session_name: str, email: str, kind: str
) -> bool:
    """Count a registration, attendance or cancellation once; False for a repeated event."""
    session_id = parse_session_name(session_name, "training_session")
    async with deps.uow() as uow:
        scheduled = await uow.sessions.get(session_id)
        if scheduled is None:
            raise NotFound(f"{session_name} does not exist")
        ensure_possible_now(kind, scheduled.session.start_time, deps.clock())
        applied = await uow.sessions.apply_registration(
            event_id, session_id, email.strip().lower(), kind
        )
        await uow.commit()
    return applied
