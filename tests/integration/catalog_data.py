"""Courses and sessions the integration tests create through the catalog's API."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from trainvite.catalog.v1 import catalog_pb2 as pb

from tests.helpers import Clients


def ts(value: dt.datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(value)
    return t


def in_days(days: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=days)


async def new_course(
    c: Clients, features: tuple[str, ...] = ("alerts",), **kw: object
) -> pb.Course:
    duration = Duration()
    duration.FromTimedelta(dt.timedelta(minutes=45))
    title = str(kw.pop("title", f"Alerting Deep Dive {uuid.uuid4().hex[:8]}"))
    course = pb.Course(
        title=title,
        topic="Alerting",
        features=features,
        level=pb.SESSION_LEVEL_INTERMEDIATE,
        format=pb.SESSION_FORMAT_LIVE_WEBINAR,
        duration=duration,
        **kw,  # type: ignore[arg-type]
    )
    return await c.catalog.CreateCourse(pb.CreateCourseRequest(course=course), metadata=c.editor)


async def new_session(
    c: Clients, course: pb.Course, start: dt.datetime, zone: str = "Europe/Paris", capacity: int = 0
) -> pb.TrainingSession:
    session = pb.TrainingSession(
        course=course.name,
        start_time=ts(start),
        time_zone=zone,
        capacity=capacity,
        registration_url="https://example.com/register",
    )
    return await c.catalog.CreateTrainingSession(
        pb.CreateTrainingSessionRequest(training_session=session), metadata=c.editor
    )


async def analytics_session(c: Clients, days_ahead: int = 40) -> pb.TrainingSession:
    """A new session of a new analytics course that CloudTech's team fits."""
    course = await c.catalog.CreateCourse(
        pb.CreateCourseRequest(
            course=pb.Course(
                title=f"Analytics Clinic {uuid.uuid4().hex[:6]}",
                topic="Analytics clinic",
                features=["dashboards", "report_scheduling", "sharing"],
                target_roles=["operations_leader", "data_analyst", "team_lead"],
                level=pb.SESSION_LEVEL_INTERMEDIATE,
                format=pb.SESSION_FORMAT_LIVE_WEBINAR,
                duration=Duration(seconds=3600),
                learning_outcomes=[
                    pb.LearningOutcome(feature="dashboards", text="Dashboards that answer")
                ],
            )
        ),
        metadata=c.editor,
    )
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=days_ahead)).replace(
        minute=0, second=0, microsecond=0
    )
    return await new_session(c, course, start, zone="America/New_York")


async def move_into_past(database_url: str, session: pb.TrainingSession, days: float) -> None:
    """Put a session `days` in the past, as only time can (the API takes future sessions only):
    attendance can be recorded for a session that has begun."""
    session_id = uuid.UUID(session.name.removeprefix("training-sessions/"))
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "UPDATE catalog.occurrences SET start_time = now() - make_interval(secs => $2)"
            " WHERE id = $1",
            session_id,
            days * 86400.0,
        )
    finally:
        await conn.close()
