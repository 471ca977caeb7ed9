"""The events the catalog publishes: what other services must hear about its sessions."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.common.domain import Event

if TYPE_CHECKING:
    from services.catalog.domain.model import Course, TrainingSession


class ChangeKind(enum.StrEnum):
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    UPDATED = "updated"


@dataclass(frozen=True, kw_only=True)
class SessionChanged(Event):
    """Invitees of this session should hear about the change: the session and its course as
    they are after it, and the time it had before a reschedule or update."""

    kind: ChangeKind
    session: TrainingSession
    course: Course
    changed_by: str
    previous_start_time: dt.datetime | None = None
    previous_time_zone: str = ""
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class RegistrationChanged(Event):
    """One person's registration for a session moved (registered, waitlisted, attended, no-show
    or cancelled), with the seats left after it (None: the capacity is unlimited) and the
    person's 1-based place when waitlisted (else 0). A place that shifts because someone ahead
    left is not a move. `invitation` is the draft the person came through, if known."""

    training_session: str
    email: str
    state: str
    previous_state: str | None
    seats_left: int | None
    waitlist_position: int = 0
    invitation: str = ""


@dataclass(frozen=True, kw_only=True)
class AttendanceRecorded(Event):
    """What one person did with a session, as the catalog pieced it from a webinar tool's
    activity or read it from an attendance report: registered, attended (with the minutes,
    re-joins summed) or no-show. Its id is deterministic over (session, email, kind, minutes)."""

    training_session: str
    email: str
    kind: str
    source: str
    minutes_attended: int = 0
    invitation: str = ""
    occur_time: dt.datetime | None = None
    # Told of a registration the catalog made itself, already applied: its own consumer, which
    # applies everyone else's facts, must leave it (a late "registered" would undo a cancel).
    applied: bool = False
