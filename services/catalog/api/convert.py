"""protobuf <-> domain for the catalog's messages."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from trainvite.catalog.v1 import catalog_pb2

from services.catalog.domain.model import (
    Course,
    CourseState,
    Format,
    LearningOutcome,
    Level,
    Registration,
    ScheduledSession,
    SessionState,
    TrainingSession,
)
from services.catalog.domain.names import parse_course_name, session_name
from services.common.errors import InvalidArgument, Violations

LEVEL_TO_PB = {
    Level.BEGINNER: catalog_pb2.SESSION_LEVEL_BEGINNER,
    Level.INTERMEDIATE: catalog_pb2.SESSION_LEVEL_INTERMEDIATE,
    Level.ADVANCED: catalog_pb2.SESSION_LEVEL_ADVANCED,
}
_FORMAT_TO_PB = {
    Format.LIVE_WEBINAR: catalog_pb2.SESSION_FORMAT_LIVE_WEBINAR,
    Format.IN_PERSON: catalog_pb2.SESSION_FORMAT_IN_PERSON,
    Format.ON_DEMAND: catalog_pb2.SESSION_FORMAT_ON_DEMAND,
}
_SESSION_STATE_TO_PB = {
    SessionState.SCHEDULED: catalog_pb2.SESSION_STATE_SCHEDULED,
    SessionState.CANCELLED: catalog_pb2.SESSION_STATE_CANCELLED,
    SessionState.COMPLETED: catalog_pb2.SESSION_STATE_COMPLETED,
}
_COURSE_STATE_TO_PB = {
    CourseState.ACTIVE: catalog_pb2.COURSE_STATE_ACTIVE,
    CourseState.CANCELLED: catalog_pb2.COURSE_STATE_CANCELLED,
}
REGISTRATION_STATE_TO_PB = {
    None: catalog_pb2.REGISTRATION_STATE_UNSPECIFIED,
    "registered": catalog_pb2.REGISTRATION_STATE_REGISTERED,
    "waitlisted": catalog_pb2.REGISTRATION_STATE_WAITLISTED,
    "cancelled": catalog_pb2.REGISTRATION_STATE_CANCELLED,
    "attended": catalog_pb2.REGISTRATION_STATE_ATTENDED,
    "no_show": catalog_pb2.REGISTRATION_STATE_NO_SHOW,
}
LEVEL_FROM_PB = {v: k for k, v in LEVEL_TO_PB.items()}
_FORMAT_FROM_PB = {v: k for k, v in _FORMAT_TO_PB.items()}


def timestamp(value: dt.datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def _duration(value: dt.timedelta) -> Duration:
    d = Duration()
    d.FromTimedelta(value)
    return d


def _outcomes(outcomes: tuple[LearningOutcome, ...]) -> list[catalog_pb2.LearningOutcome]:
    return [
        catalog_pb2.LearningOutcome(
            feature=o.feature,
            text=o.text,
            level=LEVEL_TO_PB[o.level] if o.level else catalog_pb2.SESSION_LEVEL_UNSPECIFIED,
        )
        for o in outcomes
    ]


def course_to_pb(course: Course) -> catalog_pb2.Course:
    message = catalog_pb2.Course(
        name=course.name,
        title=course.title,
        topic=course.topic,
        description=course.description,
        features=course.features,
        level=LEVEL_TO_PB[course.level],
        target_roles=course.target_roles,
        format=_FORMAT_TO_PB[course.format],
        duration=_duration(course.duration),
        learning_outcomes=_outcomes(course.learning_outcomes),
        state=_COURSE_STATE_TO_PB[course.state],
        etag=course.etag,
    )
    if course.created_at is not None:
        message.create_time.CopyFrom(timestamp(course.created_at))
    if course.updated_at is not None:
        message.update_time.CopyFrom(timestamp(course.updated_at))
    return message


def scheduled_to_pb(view: ScheduledSession, now: dt.datetime) -> catalog_pb2.TrainingSession:
    """A session with its course's content and its seats, as readers get it."""
    s, c = view.session, view.course
    message = catalog_pb2.TrainingSession(
        name=s.name,
        course=c.name,
        title=c.title,
        topic=c.topic,
        description=c.description,
        features=c.features,
        level=LEVEL_TO_PB[c.level],
        target_roles=c.target_roles,
        format=_FORMAT_TO_PB[c.format],
        start_time=timestamp(s.start_time),
        time_zone=s.time_zone,
        duration=_duration(c.duration),
        capacity=s.capacity,
        join_url=s.join_url,
        registration_url=s.registration_url,
        presenter=s.presenter,
        state=_SESSION_STATE_TO_PB[view.state_at(now)],
        learning_outcomes=_outcomes(c.learning_outcomes),
        etag=s.etag,
        seats_taken=s.seats_taken,
        full=s.full,
        cancel_reason=s.cancel_reason,
        webinar_id=s.webinar_id,
    )
    if s.seats_left is not None:
        message.seats_left = s.seats_left
    if s.created_at is not None:
        message.create_time.CopyFrom(timestamp(s.created_at))
    if s.updated_at is not None:
        message.update_time.CopyFrom(timestamp(s.updated_at))
    return message


COURSE_FIELDS = (
    "title",
    "topic",
    "description",
    "features",
    "level",
    "target_roles",
    "format",
    "duration",
    "learning_outcomes",
)


def course_fields(
    message: catalog_pb2.Course, paths: tuple[str, ...] | list[str] = COURSE_FIELDS
) -> dict[str, Any]:
    """The course's writable fields named in `paths` from the wire (all of them for a create);
    enum values the domain cannot hold are reported."""
    v = Violations()
    if "level" in paths and message.level not in LEVEL_FROM_PB:
        v.add("course.level", "must be BEGINNER, INTERMEDIATE or ADVANCED")
    if "format" in paths and message.format not in _FORMAT_FROM_PB:
        v.add("course.format", "must be LIVE_WEBINAR, IN_PERSON or ON_DEMAND")
    if "duration" in paths and (message.duration.seconds % 60 or message.duration.nanos):
        # Courses are stored and shown in minutes: a part of a minute would be lost (and under
        # a minute, the stored length would be zero).
        v.add("course.duration", "must be a whole number of minutes")
    v.raise_if_any()
    readers: dict[str, Any] = {
        "title": lambda: message.title,
        "topic": lambda: message.topic,
        "description": lambda: message.description,
        "features": lambda: tuple(message.features),
        "level": lambda: LEVEL_FROM_PB[message.level],
        "target_roles": lambda: tuple(message.target_roles),
        "format": lambda: _FORMAT_FROM_PB[message.format],
        "duration": lambda: message.duration.ToTimedelta(),
        "learning_outcomes": lambda: tuple(
            LearningOutcome(feature=o.feature, text=o.text, level=LEVEL_FROM_PB.get(o.level))
            for o in message.learning_outcomes
        ),
    }
    return {path: readers[path]() for path in paths if path in readers}


def course_from_pb(message: catalog_pb2.Course) -> Course:
    """A new course from the wire."""
    v = Violations()
    if not message.HasField("duration"):
        v.add("course.duration", "is required")
    try:
        fields = course_fields(message)
    except InvalidArgument as exc:
        v.extend(exc)
    v.raise_if_any()
    return Course(id=uuid.UUID(int=0), **fields)


# Sessions are planned months or a few years ahead. Far past that, the session's end (its start
# plus the course's length) or its local time in a zone ahead of UTC no longer fits a datetime.
LATEST_SESSION_START = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def session_fields(message: catalog_pb2.TrainingSession) -> dict[str, Any]:
    """The session's writable logistics from the wire."""
    start_time = message.start_time.ToDatetime(tzinfo=dt.UTC)
    if start_time >= LATEST_SESSION_START:
        raise InvalidArgument.single(
            "training_session.start_time", f"must be before {LATEST_SESSION_START:%Y-%m-%d}"
        )
    return {
        "start_time": start_time,
        "time_zone": message.time_zone,
        "capacity": message.capacity,
        "join_url": message.join_url,
        "registration_url": message.registration_url,
        "presenter": message.presenter,
        "webinar_id": message.webinar_id.strip(),
    }


def session_from_pb(message: catalog_pb2.TrainingSession) -> TrainingSession:
    """A new session from the wire: its course and its logistics."""
    v = Violations()
    course_id = uuid.UUID(int=0)
    if not message.course:
        v.add("training_session.course", "is required")
    else:
        try:
            course_id = parse_course_name(message.course, "training_session.course")
        except InvalidArgument as exc:
            v.extend(exc)
    fields: dict[str, Any] = {}
    if not message.HasField("start_time"):
        v.add("training_session.start_time", "is required")
    else:
        try:
            fields = session_fields(message)
        except InvalidArgument as exc:
            v.extend(exc)
    v.raise_if_any()
    return TrainingSession(id=uuid.UUID(int=0), course_id=course_id, **fields)


def registration_to_pb(registration: Registration) -> catalog_pb2.Registration:
    message = catalog_pb2.Registration(
        training_session=session_name(registration.occurrence_id),
        email=registration.email,
        state=REGISTRATION_STATE_TO_PB[registration.state],
        waitlist_position=registration.waitlist_position,
        invitation=registration.invitation,
    )
    if registration.updated_at is not None:
        message.update_time.CopyFrom(timestamp(registration.updated_at))
    return message
