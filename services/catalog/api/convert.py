"""protobuf <-> domain for the catalog's messages."""

from __future__ import annotations

import datetime as dt
import uuid

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from trainvite.catalog.v1 import catalog_pb2

from services.catalog.domain.model import (
    Format,
    LearningOutcome,
    Level,
    State,
    TrainingSession,
)
from services.common.errors import Violations

_LEVEL_TO_PB = {
    Level.BEGINNER: catalog_pb2.SESSION_LEVEL_BEGINNER,
    Level.INTERMEDIATE: catalog_pb2.SESSION_LEVEL_INTERMEDIATE,
    Level.ADVANCED: catalog_pb2.SESSION_LEVEL_ADVANCED,
}
_FORMAT_TO_PB = {
    Format.LIVE_WEBINAR: catalog_pb2.SESSION_FORMAT_LIVE_WEBINAR,
    Format.IN_PERSON: catalog_pb2.SESSION_FORMAT_IN_PERSON,
    Format.ON_DEMAND: catalog_pb2.SESSION_FORMAT_ON_DEMAND,
}
_STATE_TO_PB = {
    State.SCHEDULED: catalog_pb2.SESSION_STATE_SCHEDULED,
    State.CANCELLED: catalog_pb2.SESSION_STATE_CANCELLED,
    State.COMPLETED: catalog_pb2.SESSION_STATE_COMPLETED,
}
_LEVEL_FROM_PB = {v: k for k, v in _LEVEL_TO_PB.items()}
_FORMAT_FROM_PB = {v: k for k, v in _FORMAT_TO_PB.items()}
_STATE_FROM_PB = {v: k for k, v in _STATE_TO_PB.items()}


def timestamp(value: dt.datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def session_to_pb(session: TrainingSession) -> catalog_pb2.TrainingSession:
    """The wire form of a session."""
    duration = Duration()
    duration.FromTimedelta(session.duration)
    message = catalog_pb2.TrainingSession(
        name=session.name,
        title=session.title,
        topic=session.topic,
        description=session.description,
        features=session.features,
        level=_LEVEL_TO_PB[session.level],
        target_roles=session.target_roles,
        format=_FORMAT_TO_PB[session.format],
        start_time=timestamp(session.start_time),
        time_zone=session.time_zone,
        duration=duration,
        capacity=session.capacity,
        join_url=session.join_url,
        registration_url=session.registration_url,
        presenter=session.presenter,
        state=_STATE_TO_PB[session.state],
        learning_outcomes=[
            catalog_pb2.LearningOutcome(feature=o.feature, text=o.text)
            for o in session.learning_outcomes
        ],
        etag=session.etag,
    )
    if session.created_at is not None:
        message.create_time.CopyFrom(timestamp(session.created_at))
    if session.updated_at is not None:
        message.update_time.CopyFrom(timestamp(session.updated_at))
    return message


def session_from_pb(
    message: catalog_pb2.TrainingSession, field_prefix: str = "training_session."
) -> TrainingSession:
    """A domain session from the wire; fields the wire cannot express are reported together."""
    v = Violations()
    p = field_prefix
    if not message.HasField("start_time"):
        v.add(f"{p}start_time", "is required")
    if not message.HasField("duration"):
        v.add(f"{p}duration", "is required")
    if message.level not in _LEVEL_FROM_PB:
        v.add(f"{p}level", "must be BEGINNER, INTERMEDIATE or ADVANCED")
    if message.format not in _FORMAT_FROM_PB:
        v.add(f"{p}format", "must be LIVE_WEBINAR, IN_PERSON or ON_DEMAND")
    v.raise_if_any()
    return TrainingSession(
        id=uuid.UUID(int=0),
        title=message.title,
        topic=message.topic,
        description=message.description,
        features=tuple(message.features),
        level=_LEVEL_FROM_PB[message.level],
        target_roles=tuple(message.target_roles),
        format=_FORMAT_FROM_PB[message.format],
        start_time=message.start_time.ToDatetime(tzinfo=dt.UTC),
        time_zone=message.time_zone,
        duration=message.duration.ToTimedelta(),
        capacity=message.capacity,
        join_url=message.join_url,
        registration_url=message.registration_url,
        presenter=message.presenter,
        learning_outcomes=tuple(
            LearningOutcome(feature=o.feature, text=o.text) for o in message.learning_outcomes
        ),
    )
