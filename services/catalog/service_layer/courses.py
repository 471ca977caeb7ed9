"""Courses: create, read, list, change and retire them."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

from services.catalog.domain.model import Course, validate_course
from services.catalog.domain.names import parse_course_name
from services.catalog.service_layer.dependencies import Dependencies
from services.catalog.service_layer.pages import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from services.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from services.common import page_tokens
from services.common.errors import NotFound


async def _course(
    uow: CatalogUnitOfWork, course_id: uuid.UUID, name: str, for_update: bool = False
) -> Course:
    course = await uow.courses.get(course_id, for_update=for_update)
    if course is None:
        raise NotFound(f"{name} does not exist")
    return course


async def create_course(deps: Dependencies, course: Course, request_id: str) -> Course:
    """Validate and store a new course; a repeated request id returns the first result."""
    validate_course(course)
    async with deps.uow() as uow:
        stored = await uow.courses.add(replace(course, id=deps.new_id()), request_id or None)
        await uow.commit()
    return stored


async def get_course(deps: Dependencies, name: str) -> Course:
    course_id = parse_course_name(name)
    async with deps.uow() as uow:
        return await _course(uow, course_id, name)


async def list_courses(
    deps: Dependencies, size: int, token: str, show_cancelled: bool
) -> Page[Course]:
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
    """Update the masked fields; each upcoming session tells its invitees what they must hear."""
    course_id = parse_course_name(name, "course.name")
    now = deps.clock()
    async with deps.uow() as uow:
        course = await _course(uow, course_id, name, for_update=True)
        updated = course.change(changes, paths, etag, now)
        await _save_with_sessions(uow, course, updated, now, by)
        await uow.commit()
    return updated


async def cancel_course(deps: Dependencies, name: str, etag: str, by: str) -> Course:
    """Retire a course and cancel its upcoming sessions, each cancellation published."""
    course_id = parse_course_name(name)
    now = deps.clock()
    async with deps.uow() as uow:
        course = await _course(uow, course_id, name, for_update=True)
        cancelled = course.cancel(etag, now)
        if cancelled is course:
            return course
        await _save_with_sessions(uow, course, cancelled, now, by)
        await uow.commit()
    return cancelled


async def _save_with_sessions(
    uow: CatalogUnitOfWork, before: Course, after: Course, now: dt.datetime, by: str
) -> None:
    """Save the course, and each upcoming session as it follows the change."""
    upcoming = await uow.sessions.upcoming_of(before, now, for_update=True)
    await uow.courses.save(after)
    for scheduled in upcoming:
        await uow.sessions.save(scheduled.follow_course(after, now, by))
