"""What an invitee does from a message: open their registration link, register, cancel, take
the calendar entry, unsubscribe. Every step starts from a signed token and nothing else: the
link's token says who and what, the unsubscribe token which address."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from services.common.clock import Clock
from services.common.errors import FailedPrecondition
from services.common.registration_links import LinkClaims, LinkKeys, verify
from services.common.time_zones import is_time_zone
from services.edge.service_layer.ports import (
    Catalog,
    Registration,
    Session,
    SessionState,
    Unsubscriber,
)


@dataclass(frozen=True)
class Dependencies:
    catalog: Catalog
    unsubscriber: Unsubscriber
    link_keys: LinkKeys
    clock: Clock


class SessionClosed(Exception):
    """The session takes no registrations any more: cancelled, started or over."""

    def __init__(self, session: Session, why: str) -> None:
        super().__init__(why)
        self.session = session
        self.why = why


@dataclass(frozen=True)
class LocalTime:
    """A session's time as its invitee reads it, in their own zone."""

    date: str  # "Thursday, February 4, 2027"
    start: str  # "2:00 PM"
    end: str  # "3:30 PM"
    zone_abbreviation: str  # "EST"
    zone_name: str  # "America/New_York"
    duration_minutes: int


@dataclass(frozen=True)
class LinkPage:
    """Everything the page of a link shows."""

    claims: LinkClaims
    session: Session
    registration: Registration | None
    when: LocalTime


def _clock_text(value: dt.datetime) -> str:
    return value.strftime("%I:%M %p").lstrip("0")


def local_time(session: Session, time_zone: str) -> LocalTime:
    """The session in `time_zone`, or in its own zone when that is not a zone we know."""
    zone_name = time_zone if time_zone and is_time_zone(time_zone) else session.time_zone
    zone = ZoneInfo(zone_name)
    start = session.start.astimezone(zone)
    end = session.end.astimezone(zone)
    return LocalTime(
        date=f"{start:%A, %B} {start.day}, {start.year}",
        start=_clock_text(start),
        end=_clock_text(end),
        zone_abbreviation=start.tzname() or zone_name,
        zone_name=zone_name,
        duration_minutes=int(session.duration.total_seconds() // 60),
    )


def claims_of(deps: Dependencies, token: str) -> LinkClaims:
    """The link's claims; MalformedLink, ForgedLink or ExpiredLink when it is not to be used."""
    return verify(deps.link_keys, token, deps.clock())


def _open_for_registration(deps: Dependencies, session: Session) -> None:
    if session.state is SessionState.CANCELLED:
        raise SessionClosed(session, "cancelled")
    if session.state is SessionState.COMPLETED or session.end <= deps.clock():
        raise SessionClosed(session, "over")
    if session.start <= deps.clock():
        raise SessionClosed(session, "started")


@contextlib.asynccontextmanager
async def _closed_session_explained(deps: Dependencies, claims: LinkClaims) -> AsyncIterator[None]:
    """The catalog decides whether a session still takes changes (one call, not a read before
    each write); when it refuses, the session is read to tell the person why in their words."""
    try:
        yield
    except FailedPrecondition:
        _open_for_registration(deps, await deps.catalog.session(claims.training_session))
        raise


async def open_link(deps: Dependencies, token: str) -> LinkPage:
    """The session as it is now and the person's registration, if any. Nothing is recorded:
    mail scanners fetch links, so only a POST registers."""
    claims = claims_of(deps, token)
    session = await deps.catalog.session(claims.training_session)
    _open_for_registration(deps, session)
    registration = await deps.catalog.registration(claims.training_session, claims.email)
    return LinkPage(claims, session, registration, local_time(session, claims.tz))


async def register(deps: Dependencies, token: str) -> LinkPage:
    """A seat, or a place on the waitlist; registering again answers what stands."""
    claims = claims_of(deps, token)
    async with _closed_session_explained(deps, claims):
        registration = await deps.catalog.register(
            claims.training_session, claims.email, claims.invitation
        )
    # Read after: the seats left are those after this registration.
    session = await deps.catalog.session(claims.training_session)
    return LinkPage(claims, session, registration, local_time(session, claims.tz))


async def cancel(deps: Dependencies, token: str) -> LinkPage:
    """Give up the seat or the place in line."""
    claims = claims_of(deps, token)
    async with _closed_session_explained(deps, claims):
        registration = await deps.catalog.cancel(claims.training_session, claims.email)
    session = await deps.catalog.session(claims.training_session)
    return LinkPage(claims, session, registration, local_time(session, claims.tz))


async def calendar_session(deps: Dependencies, token: str) -> tuple[LinkClaims, Session]:
    """The session as it is now, for its calendar entry; none for a cancelled one."""
    claims = claims_of(deps, token)
    session = await deps.catalog.session(claims.training_session)
    if session.state is SessionState.CANCELLED:
        raise SessionClosed(session, "cancelled")
    return claims, session


async def unsubscribe(deps: Dependencies, token: str) -> str:
    """Stop every invitation to the token's address; the address, for the page."""
    return await deps.unsubscriber.unsubscribe(token)
