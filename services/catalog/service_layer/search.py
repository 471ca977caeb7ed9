"""Finding sessions: a CSM's free text, and the alternatives to a session."""

from __future__ import annotations

from dataclasses import dataclass

from services.catalog.domain.model import ScheduledSession, topic_query
from services.catalog.domain.names import parse_session_name
from services.catalog.service_layer.dependencies import Dependencies
from services.catalog.service_layer.sessions import scheduled_session
from services.common import page_tokens
from services.common.errors import Violations

DEFAULT_SEARCH_SIZE = 10
MAX_SEARCH_SIZE = 50
DEFAULT_ALTERNATIVES = 5
MAX_ALTERNATIVES = 50


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
        found = await scheduled_session(uow, session_id, name)
        course = found.course
        same = [
            s for s in await uow.sessions.upcoming_of(course, now) if s.session.id != session_id
        ][:limit]
        if same:
            return [Alternative(s, True, sorted(course.features)) for s in same]
        similar = await uow.sessions.next_of_similar_courses(course, now, limit)
    return [Alternative(s, False, shared) for s, shared in similar]
