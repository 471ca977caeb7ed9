"""Courses, their scheduled sessions, and the rules both must satisfy. No I/O here."""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from services.common.errors import Aborted, FailedPrecondition, InvalidArgument, Violations

SESSION_PREFIX = "training-sessions/"
COURSE_PREFIX = "courses/"


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


class ChangeKind(enum.StrEnum):
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    UPDATED = "updated"


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
class Course:
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
        return f"{COURSE_PREFIX}{self.id}"

    @property
    def etag(self) -> str:
        return _etag(self.version)


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
    version: int = 1
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @property
    def name(self) -> str:
        return f"{SESSION_PREFIX}{self.id}"

    @property
    def course_name(self) -> str:
        return f"{COURSE_PREFIX}{self.course_id}"

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
class ScheduledSession:
    """A session with its course: what readers of the catalog get."""

    session: TrainingSession
    course: Course

    @property
    def end_time(self) -> dt.datetime:
        return self.session.start_time + self.course.duration

    def state_at(self, now: dt.datetime) -> SessionState:
        if self.session.state is SessionState.SCHEDULED and self.end_time <= now:
            return SessionState.COMPLETED
        return self.session.state


@dataclass(frozen=True)
class SessionChanged:
    """Domain event: invitees of this session should hear about the change."""

    event_id: uuid.UUID
    kind: ChangeKind
    scheduled: ScheduledSession
    previous_start_time: dt.datetime | None
    previous_time_zone: str
    reason: str
    changed_by: str


# ---------------------------------------------------------------------------------------------
# Names


def _parse_name(name: str, prefix: str, field_name: str) -> uuid.UUID:
    if not name.startswith(prefix):
        raise InvalidArgument.single(field_name, f"must look like {prefix}{{id}}")
    try:
        return uuid.UUID(name.removeprefix(prefix))
    except ValueError as exc:
        raise InvalidArgument.single(field_name, "the id part is not a valid id") from exc


def parse_session_name(name: str, field_name: str = "name") -> uuid.UUID:
    """The id inside "training-sessions/{id}", or InvalidArgument naming `field_name`."""
    return _parse_name(name, SESSION_PREFIX, field_name)


def parse_course_name(name: str, field_name: str = "name") -> uuid.UUID:
    """The id inside "courses/{id}", or InvalidArgument naming `field_name`."""
    return _parse_name(name, COURSE_PREFIX, field_name)


# ---------------------------------------------------------------------------------------------
# Validation

_FEATURE_KEY = re.compile(r"[a-z][a-z0-9_]*")
_MAX_TEXT = {"title": 200, "topic": 100, "description": 5000, "presenter": 200}


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def is_time_zone(value: str) -> bool:
    """An IANA zone this machine knows."""
    if value not in available_timezones():
        return False
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


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
    {"start_time", "time_zone", "capacity", "join_url", "registration_url", "presenter"}
)


def _check_mask(paths: list[str], allowed: frozenset[str]) -> None:
    v = Violations()
    if not paths:
        v.add("update_mask", "name at least one field to change")
    for path in paths:
        if path not in allowed:
            v.add("update_mask", f"{path!r} cannot be changed; use {sorted(allowed)}")
    v.raise_if_any()


def update_course(
    course: Course, changes: dict[str, Any], paths: list[str], etag: str, now: dt.datetime
) -> Course:
    """The course with the masked fields changed; a stale etag or a cancelled course is refused."""
    _check_mask(paths, COURSE_MUTABLE)
    check_etag(etag, course.etag, course.name)
    if course.state is CourseState.CANCELLED:
        raise FailedPrecondition(f"{course.name} is cancelled")
    updated = replace(
        course, **{p: changes[p] for p in paths}, version=course.version + 1, updated_at=now
    )
    validate_course(updated)
    return updated


def update_session(
    session: TrainingSession,
    changes: dict[str, Any],
    paths: list[str],
    etag: str,
    now: dt.datetime,
) -> tuple[TrainingSession, ChangeKind | None]:
    """The session with the masked fields changed, and what kind of change invitees must hear of."""
    _check_mask(paths, SESSION_MUTABLE)
    check_etag(etag, session.etag, session.name)
    if session.state is SessionState.CANCELLED:
        raise FailedPrecondition(f"{session.name} is cancelled")
    if session.start_time <= now:
        raise FailedPrecondition(f"{session.name} has already started")
    updated = replace(
        session, **{p: changes[p] for p in paths}, version=session.version + 1, updated_at=now
    )
    validate_session(updated, now)
    if updated.start_time != session.start_time or updated.time_zone != session.time_zone:
        return updated, ChangeKind.RESCHEDULED
    if (updated.join_url, updated.registration_url, updated.presenter, updated.capacity) != (
        session.join_url,
        session.registration_url,
        session.presenter,
        session.capacity,
    ):
        return updated, ChangeKind.UPDATED
    return updated, None


def cancel_session(
    session: TrainingSession, etag: str, reason: str, now: dt.datetime
) -> TrainingSession | None:
    """The cancelled session, or None when it was cancelled already (cancelling is idempotent)."""
    if session.state is SessionState.CANCELLED:
        return None
    check_etag(etag, session.etag, session.name)
    if session.start_time <= now:
        raise FailedPrecondition(f"{session.name} has already started")
    if len(reason) > 500:
        raise InvalidArgument.single("reason", "must be at most 500 characters")
    return replace(
        session,
        state=SessionState.CANCELLED,
        cancel_reason=reason,
        version=session.version + 1,
        updated_at=now,
    )


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
