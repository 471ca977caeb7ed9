"""Sessions: schedule, read, list, change and cancel them."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from typing import Any

from services.catalog.domain.events import AttendanceRecorded
from services.catalog.domain.model import (
    CourseState,
    Level,
    ScheduledSession,
    Seating,
    TrainingSession,
    validate_session,
)
from services.catalog.domain.names import parse_course_name, parse_session_name
from services.catalog.service_layer.dependencies import Dependencies
from services.catalog.service_layer.pages import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from services.catalog.service_layer.ports import SessionFilter
from services.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from services.common import page_tokens
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound, Violations


async def scheduled_session(
    uow: CatalogUnitOfWork, session_id: uuid.UUID, name: str, for_update: bool = False
) -> ScheduledSession:
    """The session with its course, or NotFound naming it."""
    found = await uow.sessions.get(session_id, for_update=for_update)
    if found is None:
        raise NotFound(f"{name} does not exist")
    return found


async def save_seating(uow: CatalogUnitOfWork, seating: Seating) -> None:
    """Store the registrations that moved and the seats counted again. The attendance facts
    the session told of its own registrations are marked processed in the same transaction,
    so that the catalog's consumer, which applies every other source's, leaves them."""
    for registration in seating.moved:
        await uow.registrations.save(registration)
    await uow.sessions.save_seats(seating.session)
    for event in seating.session.pending_events:
        if isinstance(event, AttendanceRecorded) and event.applied:
            await uow.first_time(event.event_id)


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
        stored = await uow.sessions.add(replace(session, id=deps.new_id()), request_id or None)
        await uow.commit()
    return stored


async def get_session(deps: Dependencies, name: str) -> ScheduledSession:
    session_id = parse_session_name(name)
    async with deps.uow() as uow:
        return await scheduled_session(uow, session_id, name)


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


async def list_sessions(
    deps: Dependencies, q: SessionQuery, size: int, token: str
) -> Page[ScheduledSession]:
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
    """Reschedule or change logistics; invitees hear of a new time or new logistics, and the
    seats a larger capacity frees go to the first people waiting."""
    session_id = parse_session_name(name, "training_session.name")
    now = deps.clock()
    async with deps.uow() as uow:
        found = await scheduled_session(uow, session_id, name, for_update=True)
        changed = found.change(changes, paths, etag, now, by)
        seating = changed.promote(await uow.registrations.waitlist(session_id), now)
        await uow.sessions.save(seating.session)
        await save_seating(uow, seating)
        await uow.commit()
    return seating.session


async def cancel_session(
    deps: Dependencies, name: str, etag: str, reason: str, by: str
) -> ScheduledSession:
    """Cancel a session once; the cancellation is published."""
    session_id = parse_session_name(name)
    now = deps.clock()
    async with deps.uow() as uow:
        found = await scheduled_session(uow, session_id, name, for_update=True)
        cancelled = found.cancel(etag, reason, now, by)
        if cancelled is found:
            return found
        await uow.sessions.save(cancelled)
        await uow.commit()
    return cancelled
