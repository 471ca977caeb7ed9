"""Courses, their scheduled sessions, registrations, and the rules they must satisfy. No I/O.

Each change is a method that refuses what the rules forbid and returns the changed aggregate;
a change invitees must hear of is recorded on it as a `SessionChanged`.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from services.catalog.domain.events import (
    AttendanceRecorded,
    ChangeKind,
    RegistrationChanged,
    SessionChanged,
)
from services.catalog.domain.names import course_name, session_name
from services.common.attendance import SEAT_HOLDING, ensure_possible_now, registration_transition
from services.common.domain import Aggregate
from services.common.errors import Aborted, FailedPrecondition, InvalidArgument, Violations
from services.common.time_zones import is_time_zone

# Why a session of a cancelled course is cancelled.
COURSE_CANCELLED_REASON = "the course was cancelled"


class Level(enum.StrEnum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


class Format(enum.StrEnum):
    LIVE_WEBINAR = "live_webinar"
    IN_PERSON = "in_person"
    ON_DEMAND = "on_demand"


class CourseState(enum.StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class SessionState(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    # Not stored: a scheduled session whose end has passed reads as completed.
    COMPLETED = "completed"


@dataclass(frozen=True)
class LearningOutcome:
    """One thing participants learn, tied to a product feature; `level` None means the course's."""

    feature: str
    text: str
    level: Level | None = None

    def to_json(self) -> dict[str, str]:
        data = {"feature": self.feature, "text": self.text}
        if self.level is not None:
            data["level"] = self.level.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, str]) -> LearningOutcome:
        level = data.get("level")
        return cls(data["feature"], data["text"], Level(level) if level else None)


def _etag(version: int) -> str:
    return f'"{version}"'


def check_etag(given: str, current: str, what: str) -> None:
    """A given etag must be the current one (AIP-154); an empty one means "whatever it is"."""
    if given and given != current:
        raise Aborted(f"{what} changed since it was read (etag {current}, given {given})")


@dataclass(frozen=True)
class Course(Aggregate):
    """What is taught, to whom and how: shared by every session of the course."""

    id: uuid.UUID
    title: str
    level: Level
    format: Format
    duration: dt.timedelta
    topic: str = ""
    description: str = ""
    features: tuple[str, ...] = ()
    target_roles: tuple[str, ...] = ()
    learning_outcomes: tuple[LearningOutcome, ...] = ()
    state: CourseState = CourseState.ACTIVE
    version: int = 1
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @property
    def name(self) -> str:
        return course_name(self.id)

    @property
    def etag(self) -> str:
        return _etag(self.version)

    def change(
        self, changes: dict[str, Any], paths: list[str], etag: str, now: dt.datetime
    ) -> Course:
        """The course with the masked fields changed; a stale etag or a cancelled course is
        refused. Its sessions hear of it through `ScheduledSession.follow_course`."""
        _check_mask(paths, COURSE_MUTABLE)
        check_etag(etag, self.etag, self.name)
        if self.state is CourseState.CANCELLED:
            raise FailedPrecondition(f"{self.name} is cancelled")
        updated = replace(
            self, **{p: changes[p] for p in paths}, version=self.version + 1, updated_at=now
        )
        validate_course(updated)
        return updated

    def cancel(self, etag: str, now: dt.datetime) -> Course:
        """The retired course; itself when it was retired already (cancelling is idempotent)."""
        if self.state is CourseState.CANCELLED:
            return self
        check_etag(etag, self.etag, self.name)
        return replace(self, state=CourseState.CANCELLED, version=self.version + 1, updated_at=now)


@dataclass(frozen=True)
class TrainingSession:
    """One scheduled occurrence of a course: when, where, how many seats."""

    id: uuid.UUID
    course_id: uuid.UUID
    start_time: dt.datetime
    time_zone: str
    capacity: int = 0
    join_url: str = ""
    registration_url: str = ""
    presenter: str = ""
    state: SessionState = SessionState.SCHEDULED
    cancel_reason: str = ""
    seats_taken: int = 0
    # The webinar tool's id of the webinar (Zoom's digits), matched against its webhooks.
    webinar_id: str = ""
    version: int = 1
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @property
    def name(self) -> str:
        return session_name(self.id)

    @property
    def course_name(self) -> str:
        return course_name(self.course_id)

    @property
    def etag(self) -> str:
        return _etag(self.version)

    @property
    def seats_left(self) -> int | None:
        """None when the capacity is unlimited."""
        return None if self.capacity == 0 else max(self.capacity - self.seats_taken, 0)

    @property
    def full(self) -> bool:
        return self.seats_left == 0


@dataclass(frozen=True)
class ScheduledSession(Aggregate):
    """A session with its course: what readers of the catalog get, and what a change of the
    session must be told with, so it records the changes invitees must hear of."""

    session: TrainingSession
    course: Course

    @property
    def end_time(self) -> dt.datetime:
        return self.session.start_time + self.course.duration

    def state_at(self, now: dt.datetime) -> SessionState:
        if self.session.state is SessionState.SCHEDULED and self.end_time <= now:
            return SessionState.COMPLETED
        return self.session.state

    def change(
        self, changes: dict[str, Any], paths: list[str], etag: str, now: dt.datetime, by: str
    ) -> ScheduledSession:
        """Reschedule or change the logistics of a session that has not begun. A new time is a
        reschedule, new links, presenter or capacity an update; either is recorded for the
        invitees, and a change of nothing they see is not."""
        session = self.session
        _check_mask(paths, SESSION_MUTABLE)
        check_etag(etag, session.etag, session.name)
        self._ensure_open(now)
        updated = replace(
            session, **{p: changes[p] for p in paths}, version=session.version + 1, updated_at=now
        )
        validate_session(updated, now)
        if updated.capacity and updated.capacity < session.seats_taken:
            raise FailedPrecondition(
                f"{session.seats_taken} people are registered; capacity cannot go below that"
            )
        changed = ScheduledSession(updated, self.course)
        kind = _change_kind(session, updated)
        if kind is not None:
            changed.record(
                SessionChanged(
                    kind=kind,
                    session=updated,
                    course=self.course,
                    changed_by=by,
                    previous_start_time=session.start_time,
                    previous_time_zone=session.time_zone,
                )
            )
        return changed

    def cancel(self, etag: str, reason: str, now: dt.datetime, by: str) -> ScheduledSession:
        """The cancelled session, its cancellation recorded; itself when it was cancelled
        already (cancelling is idempotent)."""
        if self.session.state is SessionState.CANCELLED:
            return self
        check_etag(etag, self.session.etag, self.session.name)
        self._ensure_open(now)
        if len(reason) > 500:
            raise InvalidArgument.single("reason", "must be at most 500 characters")
        return self._cancelled(self.course, reason, now, by)

    def follow_course(self, course: Course, now: dt.datetime, by: str) -> ScheduledSession:
        """The session of the changed `course`. A session still to come tells its invitees of
        a new length or of the course's end (then it is cancelled too); other course changes
        (title, outcomes...) reach them with the next invitation, not as news."""
        if course.id != self.course.id:
            raise ValueError(f"{course.name} is not the course of {self.session.name}")
        upcoming = self.session.state is SessionState.SCHEDULED and self.session.start_time > now
        if upcoming and course.state is CourseState.CANCELLED:
            return self._cancelled(course, COURSE_CANCELLED_REASON, now, by)
        followed = ScheduledSession(self.session, course)
        if upcoming and course.duration != self.course.duration:
            followed.record(
                SessionChanged(
                    kind=ChangeKind.UPDATED, session=self.session, course=course, changed_by=by
                )
            )
        return followed

    def register(
        self,
        current: Registration,
        waitlist: Sequence[Registration],
        invitation: str,
        now: dt.datetime,
    ) -> Seating:
        """A person registers: a seat while one is free and nobody waits ahead, else the end of
        the waitlist. Registering again changes nothing (the registration as it stands); a
        cancelled or started session is refused."""
        self._ensure_open(now)
        if current.state in ACTIVE_STATES:
            return Seating(self)
        if current.invitation:
            invitation = current.invitation
        seating = self._seat_or_wait(current, waitlist, now, invitation=invitation)
        (person,) = seating.moved
        if person.state == REGISTERED:
            seating.session._reported(person, REGISTERED, now)
        return seating

    def cancel_registration(
        self, current: Registration, waitlist: Sequence[Registration], now: dt.datetime
    ) -> Seating:
        """A person gives up their seat (the first person waiting takes it) or their place on
        the waitlist; cancelling again changes nothing. A cancelled or started session is
        refused."""
        self._ensure_open(now)
        if current.state == CANCELLED:
            return Seating(self)
        if current.state in (ATTENDED, NO_SHOW):
            # Attendance may be heard of shortly before the start (clocks differ); it stands.
            raise FailedPrecondition(f"{current.email} is recorded as {current.state}")
        seating = self._leave(current, waitlist, now)
        seating.session._reported(seating.moved[0], CANCELLED, now)
        return seating

    def apply_attendance(
        self,
        current: Registration,
        kind: str,
        waitlist: Sequence[Registration],
        now: dt.datetime,
    ) -> Seating:
        """The session after one attendance event of a webinar tool or the platform: a
        "registered" takes a seat or waits like any registration, a "cancelled" frees a seat for
        the first person waiting. Attendance never goes backwards, so a repeated or late event
        changes nothing; a fact that cannot be true yet (attended a session that has not begun)
        is refused."""
        if current.occurrence_id != self.session.id:
            raise ValueError(f"the registration is not one of {self.session.name}")
        ensure_possible_now(kind, self.session.start_time, now)
        if current.state == WAITLISTED:
            # Waiting is a registration without a seat: a repeated "registered" keeps the place.
            target = None if kind == REGISTERED else kind
        else:
            target = registration_transition(current.state, kind)
        if target is None:
            return Seating(self)
        if target == REGISTERED:
            return self._seat_or_wait(current, waitlist, now)
        if target == CANCELLED:
            return self._leave(current, waitlist, now)
        return self._moved(current, current.moved_to(target, now))

    def promote(self, waitlist: Sequence[Registration], now: dt.datetime) -> Seating:
        """The first people waiting, in order, take the seats that are free (all of them when
        the capacity is unlimited); nobody moves in a session that is cancelled or has begun."""
        if (
            self.session.state is SessionState.CANCELLED
            or self.session.start_time <= now
            or not waitlist
        ):
            return Seating(self)
        free = self.session.seats_left
        promoted = list(_in_order(waitlist))[: len(waitlist) if free is None else free]
        seating = Seating(self)
        for person in promoted:
            seated = seating.session._moved(person, person.moved_to(REGISTERED, now))
            seating = Seating(seated.session, seating.moved + seated.moved)
            seating.session._reported(seated.moved[0], REGISTERED, now)
        return seating

    def _reported(self, person: Registration, kind: str, now: dt.datetime) -> None:
        """Every source of attendance facts speaks AttendanceRecorded: a seat taken or given
        up here (through an invitation's link, or from the waitlist) is told like a webinar
        tool's registration, so that whoever keeps training history hears of it too. A place
        on the waitlist is not a seat and is told by RegistrationChanged alone; facts this
        catalog applied from AttendanceRecorded are not told again."""
        self.record(
            AttendanceRecorded(
                event_id=uuid.uuid5(
                    _REPORTED_IDS, f"{self.session.name}|{person.email}|{kind}|{now.isoformat()}"
                ),
                training_session=self.session.name,
                email=person.email,
                kind=kind,
                source=REGISTRATION_LINK if person.invitation else CATALOG_SOURCE,
                invitation=person.invitation,
                occur_time=now,
                applied=True,
            )
        )

    def _seat_or_wait(
        self,
        current: Registration,
        waitlist: Sequence[Registration],
        now: dt.datetime,
        invitation: str | None = None,
    ) -> Seating:
        free = self.session.seats_left
        if free is None or (free > 0 and not waitlist):
            after = current.moved_to(REGISTERED, now, invitation=invitation)
        else:
            after = current.moved_to(
                WAITLISTED,
                now,
                invitation=invitation,
                waitlist_seq=max((w.waitlist_seq or 0 for w in waitlist), default=0) + 1,
                waitlist_position=len(waitlist) + 1,
            )
        return self._moved(current, after)

    def _leave(
        self, current: Registration, waitlist: Sequence[Registration], now: dt.datetime
    ) -> Seating:
        """The person cancelled; a seat they held goes to the first person waiting."""
        left = self._moved(current, current.moved_to(CANCELLED, now))
        if not current.holds_seat:
            return left
        others = [w for w in waitlist if w.email != current.email]
        promoted = left.session.promote(others, now)
        return Seating(promoted.session, left.moved + promoted.moved)

    def _moved(self, before: Registration, after: Registration) -> Seating:
        """The session with its seats counted again after one person's registration moved
        (`seats_taken` is always the number of people holding a seat), the move recorded."""
        if {before.occurrence_id, after.occurrence_id} != {self.session.id}:
            raise ValueError(f"the registration is not one of {self.session.name}")
        if after.state == before.state or after.state is None:
            return Seating(self)
        delta = int(after.holds_seat) - int(before.holds_seat)
        moved = self
        if delta:
            taken = replace(self.session, seats_taken=self.session.seats_taken + delta)
            moved = ScheduledSession(taken, self.course)
            # The copy carries what this change recorded so far, so that saving it saves all.
            for event in self.collect_events():
                moved.record(event)
        moved.record(
            RegistrationChanged(
                training_session=self.session.name,
                email=after.email,
                state=after.state,
                previous_state=before.state,
                seats_left=moved.session.seats_left,
                waitlist_position=after.waitlist_position,
                invitation=after.invitation,
            )
        )
        return Seating(moved, (after,))

    def _ensure_open(self, now: dt.datetime) -> None:
        if self.session.state is SessionState.CANCELLED:
            raise FailedPrecondition(f"{self.session.name} is cancelled")
        if self.session.start_time <= now:
            raise FailedPrecondition(f"{self.session.name} has already started")

    def _cancelled(
        self, course: Course, reason: str, now: dt.datetime, by: str
    ) -> ScheduledSession:
        session = replace(
            self.session,
            state=SessionState.CANCELLED,
            cancel_reason=reason,
            version=self.session.version + 1,
            updated_at=now,
        )
        cancelled = ScheduledSession(session, course)
        cancelled.record(
            SessionChanged(
                kind=ChangeKind.CANCELLED,
                session=session,
                course=course,
                changed_by=by,
                reason=reason,
            )
        )
        return cancelled


def _change_kind(before: TrainingSession, after: TrainingSession) -> ChangeKind | None:
    """What invitees must hear of a change of logistics, if anything."""
    if (after.start_time, after.time_zone) != (before.start_time, before.time_zone):
        return ChangeKind.RESCHEDULED
    if (after.join_url, after.registration_url, after.presenter, after.capacity) != (
        before.join_url,
        before.registration_url,
        before.presenter,
        before.capacity,
    ):
        return ChangeKind.UPDATED
    return None


REGISTERED = "registered"
# Where the attendance facts of registrations made here say they came from.
REGISTRATION_LINK = "registration-link"
CATALOG_SOURCE = "catalog"
_REPORTED_IDS = uuid.UUID("5b7f6a53-2f1e-4c8e-9a43-6d0c1b9e7a21")
WAITLISTED = "waitlisted"
CANCELLED = "cancelled"
ATTENDED = "attended"
NO_SHOW = "no_show"
REGISTRATION_STATES = frozenset({REGISTERED, WAITLISTED, CANCELLED, ATTENDED, NO_SHOW})
# States in which registering again changes nothing: the person holds a seat or waits for one.
ACTIVE_STATES = frozenset({REGISTERED, WAITLISTED, ATTENDED, NO_SHOW})


@dataclass(frozen=True)
class Registration(Aggregate):
    """Where one person stands with one session: registered, waitlisted, attended, no-show or
    cancelled; None before anything was heard of them.

    `waitlist_seq` orders the waitlist by arrival (set only while waitlisted);
    `waitlist_position` is the 1-based place it gives, as read or as moved."""

    occurrence_id: uuid.UUID
    email: str
    state: str | None = None
    waitlist_seq: int | None = None
    waitlist_position: int = 0
    invitation: str = ""
    updated_at: dt.datetime | None = None

    @property
    def holds_seat(self) -> bool:
        return self.state in SEAT_HOLDING

    def moved_to(
        self,
        state: str,
        now: dt.datetime,
        *,
        invitation: str | None = None,
        waitlist_seq: int | None = None,
        waitlist_position: int = 0,
    ) -> Registration:
        """The registration in `state` as of `now`; only a waitlisted one keeps a place."""
        if (state == WAITLISTED) != (waitlist_seq is not None):
            raise ValueError("a place on the waitlist is for the waitlisted only")
        return replace(
            self,
            state=state,
            waitlist_seq=waitlist_seq,
            waitlist_position=waitlist_position,
            invitation=self.invitation if invitation is None else invitation,
            updated_at=now,
        )


@dataclass(frozen=True)
class Seating:
    """What one change did to a session's registrations: the session with its seats counted
    again (and the moves recorded on it), and each registration that moved, in order."""

    session: ScheduledSession
    moved: tuple[Registration, ...] = ()


def _in_order(waitlist: Sequence[Registration]) -> list[Registration]:
    return sorted(waitlist, key=lambda r: r.waitlist_seq or 0)


_EMAIL_MAX = 254


def validate_registrant(email: str, invitation: str = "") -> str:
    """The address as stored (trimmed, lower case), or InvalidArgument naming each bad field."""
    v = Violations()
    address = email.strip().lower()
    local, at, domain = address.rpartition("@")
    if not address:
        v.add("email", "must not be empty")
    elif (
        not at
        or not local
        or "." not in domain
        or domain.startswith(".")
        or domain.endswith(".")
        or "@" in local
        or any(c.isspace() or ord(c) < 32 for c in address)
        or len(address) > _EMAIL_MAX
    ):
        v.add("email", "must be an email address such as dana@northwind.example")
    if invitation and not _INVITATION.fullmatch(invitation):
        v.add(
            "invitation",
            "must look like customers/{customer}/invitation-batches/{batch}/drafts/{draft}",
        )
    v.raise_if_any()
    return address


_INVITATION = re.compile(r"customers/[^/\s]+/invitation-batches/[^/\s]+/drafts/[^/\s]+")


# ---------------------------------------------------------------------------------------------
# Validation

_FEATURE_KEY = re.compile(r"[a-z][a-z0-9_]*")
# Zoom's webinar ids are digits; other tools use letters, digits and a few separators.
_WEBINAR_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_MAX_TEXT = {"title": 200, "topic": 100, "description": 5000, "presenter": 200}


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def validate_course(course: Course, p: str = "course.") -> None:
    """Raise InvalidArgument naming every field of a course that breaks a rule."""
    v = Violations()
    if not course.title.strip():
        v.add(f"{p}title", "must not be empty")
    for name, limit in _MAX_TEXT.items():
        if len(getattr(course, name, "")) > limit:
            v.add(f"{p}{name}", f"must be at most {limit} characters")
    if course.duration <= dt.timedelta(0):
        v.add(f"{p}duration", "must be positive")
    elif course.duration > dt.timedelta(days=7):
        v.add(f"{p}duration", "must be at most 7 days")
    for i, feature in enumerate(course.features):
        if not _FEATURE_KEY.fullmatch(feature):
            v.add(f"{p}features[{i}]", "must be a lower-case key such as 'dashboards'")
    for i, role in enumerate(course.target_roles):
        if not _FEATURE_KEY.fullmatch(role):
            v.add(f"{p}target_roles[{i}]", "must be a lower-case key such as 'data_analyst'")
    for i, outcome in enumerate(course.learning_outcomes):
        if not outcome.text.strip():
            v.add(f"{p}learning_outcomes[{i}].text", "must not be empty")
    v.raise_if_any()


def validate_session(
    session: TrainingSession, now: dt.datetime, p: str = "training_session."
) -> None:
    """Raise InvalidArgument naming every field of a session's logistics that breaks a rule."""
    v = Violations()
    if not is_time_zone(session.time_zone):
        v.add(f"{p}time_zone", f"unknown IANA time zone {session.time_zone!r}")
    if session.start_time.tzinfo is None:
        v.add(f"{p}start_time", "must be an instant")
    elif session.start_time <= now:
        v.add(f"{p}start_time", "must be in the future")
    if session.capacity < 0:
        v.add(f"{p}capacity", "must not be negative (0 means no limit)")
    for url_field in ("join_url", "registration_url"):
        value = getattr(session, url_field)
        if value and not _is_http_url(value):
            v.add(f"{p}{url_field}", "must be an http or https URL")
    if len(session.presenter) > _MAX_TEXT["presenter"]:
        v.add(f"{p}presenter", f"must be at most {_MAX_TEXT['presenter']} characters")
    if session.webinar_id and not _WEBINAR_ID.fullmatch(session.webinar_id):
        v.add(
            f"{p}webinar_id",
            "must be the webinar tool's id: up to 64 letters, digits or - _ . characters",
        )
    v.raise_if_any()


# ---------------------------------------------------------------------------------------------
# Changes

COURSE_MUTABLE = frozenset(
    {
        "title",
        "topic",
        "description",
        "features",
        "level",
        "target_roles",
        "format",
        "duration",
        "learning_outcomes",
    }
)
SESSION_MUTABLE = frozenset(
    {
        "start_time",
        "time_zone",
        "capacity",
        "join_url",
        "registration_url",
        "presenter",
        "webinar_id",
    }
)


def _check_mask(paths: list[str], allowed: frozenset[str]) -> None:
    v = Violations()
    if not paths:
        v.add("update_mask", "name at least one field to change")
    for path in paths:
        if path not in allowed:
            v.add("update_mask", f"{path!r} cannot be changed; use {sorted(allowed)}")
    v.raise_if_any()


# ---------------------------------------------------------------------------------------------
# Search words

# Words a CSM adds around a topic that say nothing about which session is meant.
_NOISE_WORDS = frozenset(
    {
        "training",
        "trainings",
        "session",
        "sessions",
        "webinar",
        "webinars",
        "course",
        "class",
        "workshop",
        "the",
        "a",
        "an",
        "to",
        "for",
        "on",
        "about",
        "invite",
        "team",
    }
)


@dataclass(frozen=True)
class TopicQuery:
    """Free text as a CSM typed it, reduced to the words that identify a course."""

    raw: str
    terms: tuple[str, ...] = field(default=())

    @property
    def text(self) -> str:
        return " ".join(self.terms)


def topic_query(raw: str) -> TopicQuery:
    """Drop punctuation and noise words ("training", "session", ...), keep the rest in order."""
    words = re.findall(r"[\w-]+", raw.lower())
    terms = tuple(w for w in words if w not in _NOISE_WORDS)
    return TopicQuery(raw=raw, terms=terms or tuple(words))
