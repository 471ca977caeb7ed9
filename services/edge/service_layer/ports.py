"""What the edge's pages need from the services behind it, and how it sees their answers."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass
from typing import Protocol


class SessionState(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class RegistrationState(enum.StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    NO_SHOW = "no_show"


@dataclass(frozen=True)
class Session:
    """A training session as the catalog shows it now."""

    name: str
    title: str
    description: str
    presenter: str
    start: dt.datetime
    duration: dt.timedelta
    time_zone: str
    join_url: str
    state: SessionState
    # None when the session has no seat limit.
    seats_left: int | None
    cancel_reason: str = ""
    # Grows with every change: the calendar entry's SEQUENCE.
    sequence: int = 0

    @property
    def end(self) -> dt.datetime:
        return self.start + self.duration


@dataclass(frozen=True)
class Registration:
    state: RegistrationState
    # 1-based place on the waitlist, 0 when not waiting.
    waitlist_position: int = 0

    @property
    def active(self) -> bool:
        """Holds a seat or a place in line."""
        return self.state in (RegistrationState.REGISTERED, RegistrationState.WAITLISTED)


class Catalog(Protocol):
    """Sessions and registrations. NotFound, FailedPrecondition and InvalidArgument
    (services/common/errors.py) for what the catalog refuses; an outage raises
    `ServiceUnavailable`."""

    async def session(self, name: str) -> Session: ...

    async def registration(self, training_session: str, email: str) -> Registration | None: ...

    async def register(
        self, training_session: str, email: str, invitation: str
    ) -> Registration: ...

    async def cancel(self, training_session: str, email: str) -> Registration: ...


class Unsubscriber(Protocol):
    async def unsubscribe(self, token: str) -> str:
        """Suppress the address of a one-click link's token; InvalidArgument if not a token."""
        ...


class ServiceUnavailable(Exception):
    """A service behind the edge did not answer in time: try again later."""


class ActivityKind(enum.StrEnum):
    REGISTERED = "registered"
    JOINED = "joined"
    LEFT = "left"
    ENDED = "ended"


@dataclass(frozen=True)
class WebinarActivity:
    """One webinar tool webhook, verified: what happened, to whom, when by the tool's clock."""

    event_id: uuid.UUID
    occur_time: dt.datetime
    source: str
    webinar_id: str
    kind: ActivityKind
    email: str = ""
    participant_id: str = ""
    webinar_instance: str = ""


class ActivityPublisher(Protocol):
    async def publish(self, activity: WebinarActivity) -> None:
        """Return once the stream has stored it (a repeat is dropped there by its event id);
        `ServiceUnavailable` when it cannot say so in time."""
        ...
