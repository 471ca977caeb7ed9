"""Training sessions and the rules a session must satisfy. No I/O here."""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from services.common.errors import Violations

NAME_PREFIX = "training-sessions/"


class Level(enum.StrEnum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


class Format(enum.StrEnum):
    LIVE_WEBINAR = "live_webinar"
    IN_PERSON = "in_person"
    ON_DEMAND = "on_demand"


class State(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


@dataclass(frozen=True)
class LearningOutcome:
    """One thing participants learn, tied to a product feature."""

    feature: str
    text: str


@dataclass(frozen=True)
class TrainingSession:
    """A scheduled session: what it teaches, to whom, and its logistics."""

    id: uuid.UUID
    title: str
    start_time: dt.datetime
    time_zone: str
    duration: dt.timedelta
    level: Level
    format: Format
    topic: str = ""
    description: str = ""
    features: tuple[str, ...] = ()
    target_roles: tuple[str, ...] = ()
    capacity: int = 0
    join_url: str = ""
    registration_url: str = ""
    presenter: str = ""
    state: State = State.SCHEDULED
    learning_outcomes: tuple[LearningOutcome, ...] = ()
    version: int = 1
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @property
    def name(self) -> str:
        """Resource name, "training-sessions/{id}"."""
        return f"{NAME_PREFIX}{self.id}"

    @property
    def etag(self) -> str:
        """Changes with every update of the session."""
        return f'"{self.version}"'

    @property
    def end_time(self) -> dt.datetime:
        return self.start_time + self.duration

    def with_id(self, new_id: uuid.UUID) -> TrainingSession:
        return replace(self, id=new_id)


def parse_session_name(name: str, field_name: str = "name") -> uuid.UUID:
    """The id inside "training-sessions/{id}", or InvalidArgument naming `field_name`."""
    violations = Violations()
    if not name.startswith(NAME_PREFIX):
        violations.add(field_name, f"must look like {NAME_PREFIX}{{id}}")
        violations.raise_if_any()
    try:
        return uuid.UUID(name.removeprefix(NAME_PREFIX))
    except ValueError:
        violations.add(field_name, "the id part is not a valid session id")
        violations.raise_if_any()
        raise  # unreachable: raise_if_any raised


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _is_time_zone(value: str) -> bool:
    if value not in available_timezones():
        return False
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def validate_new_session(
    session: TrainingSession, now: dt.datetime, field_prefix: str = "training_session."
) -> None:
    """Raise InvalidArgument naming every field of a new session that breaks a rule."""
    v = Violations()
    p = field_prefix
    if not session.title.strip():
        v.add(f"{p}title", "must not be empty")
    if not _is_time_zone(session.time_zone):
        v.add(f"{p}time_zone", f"unknown IANA time zone {session.time_zone!r}")
    if session.start_time.tzinfo is None:
        v.add(f"{p}start_time", "must be an instant")
    elif session.start_time <= now:
        v.add(f"{p}start_time", "must be in the future")
    if session.duration <= dt.timedelta(0):
        v.add(f"{p}duration", "must be positive")
    if session.capacity < 0:
        v.add(f"{p}capacity", "must not be negative (0 means no limit)")
    for url_field in ("join_url", "registration_url"):
        value = getattr(session, url_field)
        if value and not _is_http_url(value):
            v.add(f"{p}{url_field}", "must be an http or https URL")
    for i, feature in enumerate(session.features):
        if not _FEATURE_KEY.fullmatch(feature):
            v.add(f"{p}features[{i}]", "must be a lower-case key such as 'dashboards'")
    v.raise_if_any()


_FEATURE_KEY = re.compile(r"[a-z][a-z0-9_]*")

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
    """Free text as a CSM typed it, reduced to the words that identify a session."""

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
