"""The catalog's use cases, one function each."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from services.catalog.domain.model import (
    TrainingSession,
    parse_session_name,
    topic_query,
    validate_new_session,
)
from services.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from services.common.errors import InvalidArgument, NotFound, Violations

Clock = Callable[[], dt.datetime]
UowFactory = Callable[[], CatalogUnitOfWork]

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
DEFAULT_SEARCH_SIZE = 10
MAX_SEARCH_SIZE = 50


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def create_session(
    uow_factory: UowFactory, session: TrainingSession, request_id: str, now: dt.datetime
) -> TrainingSession:
    """Validate and store a new session; a repeated request id returns the first result."""
    validate_new_session(session, now)
    async with uow_factory() as uow:
        stored = await uow.sessions.add(session.with_id(uuid.uuid4()), request_id or None)
        await uow.commit()
    return stored


async def get_session(uow_factory: UowFactory, name: str) -> TrainingSession:
    """One session by resource name."""
    session_id = parse_session_name(name)
    async with uow_factory() as uow:
        session = await uow.sessions.get(session_id)
    if session is None:
        raise NotFound(f"{name} does not exist")
    return session


def _page_size(requested: int, default: int, maximum: int, field: str) -> int:
    if requested == 0:
        return default
    if not 1 <= requested <= maximum:
        raise InvalidArgument.single(field, f"must be between 1 and {maximum}")
    return requested


def _encode_token(session: TrainingSession, include_past: bool) -> str:
    raw = json.dumps(
        {"s": session.start_time.isoformat(), "i": str(session.id), "p": include_past}
    ).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str, include_past: bool) -> tuple[dt.datetime, uuid.UUID]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        position = (dt.datetime.fromisoformat(data["s"]), uuid.UUID(data["i"]))
        same_query = data["p"] == include_past
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidArgument.single("page_token", "is not a token this service issued") from exc
    if not same_query:
        raise InvalidArgument.single("page_token", "belongs to a list with other filters")
    return position


@dataclass(frozen=True)
class SessionPage:
    sessions: list[TrainingSession]
    next_page_token: str


async def list_sessions(
    uow_factory: UowFactory,
    page_size: int,
    page_token: str,
    include_past: bool,
    now: dt.datetime,
) -> SessionPage:
    """Sessions by start time, upcoming only unless asked, one page at a time."""
    size = _page_size(page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, "page_size")
    after = _decode_token(page_token, include_past) if page_token else None
    async with uow_factory() as uow:
        sessions = await uow.sessions.list_by_start(size + 1, after, None if include_past else now)
    more = len(sessions) > size
    sessions = sessions[:size]
    token = _encode_token(sessions[-1], include_past) if more else ""
    return SessionPage(sessions, token)


async def search_sessions(
    uow_factory: UowFactory, query: str, page_size: int, include_past: bool, now: dt.datetime
) -> list[tuple[TrainingSession, float]]:
    """Sessions for a CSM's free text, best match first."""
    v = Violations()
    if not query.strip():
        v.add("query", "must not be empty")
    if len(query) > 200:
        v.add("query", "must be at most 200 characters")
    v.raise_if_any()
    size = _page_size(page_size, DEFAULT_SEARCH_SIZE, MAX_SEARCH_SIZE, "page_size")
    async with uow_factory() as uow:
        return await uow.sessions.search(topic_query(query), size, None if include_past else now)
