"""A session's event in the inviting CSM's calendar: which event, what it says, and who is on it.

No I/O here: the calendar adapter (Google Calendar) and the use case build on these.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
from dataclasses import dataclass

# Google Calendar event ids: base32hex characters (a-v and 0-9), 5 to 1024 of them.
_EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
_SESSION = re.compile(r"training-sessions/(?P<id>[0-9a-fA-F-]{36})")
# Every character of "trainvite" is base32hex, so the id says whose event it is at a glance.
_EVENT_ID_PREFIX = "trainvite"
# A course without a duration still needs an end in the calendar.
_DEFAULT_DURATION = dt.timedelta(hours=1)


def calendar_event_id(training_session: str) -> str:
    """The session's event id, the same in every CSM's calendar and on every call, so that the
    first registration creates the event and the later ones find it: "trainvite" and the
    session's UUID as 32 hex digits (hex digits are base32hex characters too)."""
    match = _SESSION.fullmatch(training_session)
    if match is None:
        raise ValueError(f"{training_session!r} is not a training session's name")
    event_id = _EVENT_ID_PREFIX + uuid.UUID(match["id"]).hex
    assert _EVENT_ID.fullmatch(event_id)
    return event_id


def is_session_name(name: str) -> bool:
    """training-sessions/{uuid}"""
    match = _SESSION.fullmatch(name)
    if match is None:
        return False
    try:
        uuid.UUID(match["id"])
    except ValueError:
        return False
    return True


class CalendarChange(enum.Enum):
    ADD = "add"
    REMOVE = "remove"


# The catalog's registration states, as the calendar cares about them: a seat puts the person
# on the event (a promotion from the waitlist arrives as REGISTERED too), giving it up takes
# them off; the waitlisted have no seat yet, and attendance after the fact changes nothing.
_CHANGES = {"registered": CalendarChange.ADD, "cancelled": CalendarChange.REMOVE}


@dataclass(frozen=True)
class RegistrationMoved:
    """A registration that moved (the catalog's RegistrationChanged), as the calendar takes it."""

    event_id: uuid.UUID
    training_session: str
    email: str
    # registered, waitlisted, cancelled, attended or no_show.
    state: str
    previous_state: str
    # The invitation the person came through; empty when they registered by other means.
    invitation: str

    @property
    def applied_key(self) -> uuid.UUID:
        """The id calendar sync marks the event applied under. Tracking consumes the same
        events in the same schema and marks them under their own id: under one shared id,
        whichever consumer came second would take the event for a replay and skip it."""
        return uuid.uuid5(self.event_id, "calendar")

    @property
    def change(self) -> CalendarChange | None:
        """What the move does to the CSM's event; None when nothing (no invitation: no CSM
        invited them, so there is no calendar to write to)."""
        if not self.invitation:
            return None
        return _CHANGES.get(self.state)


class SessionCalendarChange(enum.Enum):
    # The session's event takes the session's new time (and what it says as of now).
    MOVE = "move"
    # The session is off: so is its event.
    CANCEL = "cancel"


@dataclass(frozen=True)
class SessionMoved:
    """A change of the session itself (the catalog's TrainingSessionChanged), as the calendar
    takes it: where the session starts now, where it started before, and whether it is off."""

    event_id: uuid.UUID
    training_session: str
    start: dt.datetime
    time_zone: str
    # The start and zone before the change; None and empty when the change did not say (a
    # new length of the course, which is the session's length).
    previous_start: dt.datetime | None
    previous_time_zone: str
    cancelled: bool

    @property
    def applied_key(self) -> uuid.UUID:
        """The id calendar sync marks the event applied under (see RegistrationMoved)."""
        return uuid.uuid5(self.event_id, "calendar")

    @property
    def change(self) -> SessionCalendarChange | None:
        """What the change does to the CSMs' events; None when the session stays where it was
        (new links, presenter or capacity: the event keeps its time)."""
        if self.cancelled:
            return SessionCalendarChange.CANCEL
        if self.previous_start is None:
            # The course's new length comes without the times before it: its end may have
            # moved, and taking the session as it is now is right either way.
            return SessionCalendarChange.MOVE
        started_elsewhere = self.previous_start != self.start
        zone_changed = bool(self.previous_time_zone) and self.previous_time_zone != self.time_zone
        return SessionCalendarChange.MOVE if started_elsewhere or zone_changed else None


@dataclass(frozen=True)
class Inviter:
    """Who sent an invitation, from its delivery: the CSM whose calendar holds the event."""

    sender_email: str
    training_session: str


@dataclass(frozen=True)
class SessionEvent:
    """What the session's calendar event says (the catalog's session as it is now)."""

    event_id: str
    training_session: str
    title: str
    description: str
    start: dt.datetime
    end: dt.datetime
    time_zone: str
    # The join URL: where the attendee goes at the start time.
    location: str
    cancelled: bool = False

    @classmethod
    def of_session(
        cls,
        training_session: str,
        title: str,
        description: str,
        start: dt.datetime,
        duration: dt.timedelta,
        time_zone: str,
        join_url: str,
        cancelled: bool,
    ) -> SessionEvent:
        return cls(
            event_id=calendar_event_id(training_session),
            training_session=training_session,
            title=title,
            description=description,
            start=start,
            end=start + (duration if duration > dt.timedelta(0) else _DEFAULT_DURATION),
            time_zone=time_zone,
            location=join_url,
            cancelled=cancelled,
        )


def same_address(a: str, b: str) -> bool:
    """Calendar attendees are addresses compared without case."""
    return a.casefold() == b.casefold()


def with_attendee(attendees: list[str], email: str) -> list[str] | None:
    """The attendee list with `email` added, or None when it is there already (no change)."""
    if any(same_address(a, email) for a in attendees):
        return None
    return [*attendees, email]


def without_attendee(attendees: list[str], email: str) -> list[str] | None:
    """The attendee list without `email`, or None when it was not there (no change)."""
    kept = [a for a in attendees if not same_address(a, email)]
    return None if len(kept) == len(attendees) else kept
