"""A course and its sessions as the catalog's unit tests start from them."""

from __future__ import annotations

import datetime as dt
import uuid

from services.catalog.domain.model import Course, Format, Level, ScheduledSession, TrainingSession

NOW = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)
COURSE = Course(
    id=uuid.uuid4(),
    title="Dashboards 101",
    level=Level.BEGINNER,
    format=Format.LIVE_WEBINAR,
    duration=dt.timedelta(minutes=60),
    features=("dashboards",),
)


def session(**kw: object) -> TrainingSession:
    """A session of COURSE a week after NOW, with what `kw` changes."""
    base: dict[str, object] = dict(
        id=uuid.uuid4(),
        course_id=COURSE.id,
        start_time=NOW + dt.timedelta(days=7),
        time_zone="America/New_York",
    )
    base.update(kw)
    return TrainingSession(**base)  # type: ignore[arg-type]


def scheduled(**kw: object) -> ScheduledSession:
    return ScheduledSession(session(**kw), COURSE)
