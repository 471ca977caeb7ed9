"""The catalog's rules: courses, sessions, changes, seats and a CSM's search words."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest

from services.catalog.domain.model import (
    ChangeKind,
    Course,
    Format,
    LearningOutcome,
    Level,
    SessionState,
    TrainingSession,
    cancel_session,
    parse_session_name,
    topic_query,
    update_course,
    update_session,
    validate_course,
    validate_session,
)
from services.common.attendance import registration_transition
from services.common.errors import Aborted, FailedPrecondition, InvalidArgument

NOW = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
COURSE = Course(
    id=uuid.uuid4(),
    title="Dashboards 101",
    level=Level.BEGINNER,
    format=Format.LIVE_WEBINAR,
    duration=dt.timedelta(minutes=60),
    features=("dashboards",),
)


def session(**kw: object) -> TrainingSession:
    base: dict[str, object] = dict(
        id=uuid.uuid4(),
        course_id=COURSE.id,
        start_time=NOW + dt.timedelta(days=7),
        time_zone="America/New_York",
    )
    base.update(kw)
    return TrainingSession(**base)  # type: ignore[arg-type]


def fields(error: pytest.ExceptionInfo[InvalidArgument]) -> set[str]:
    return {v.field for v in error.value.violations}


def test_good_course_and_session_pass() -> None:
    validate_course(COURSE)
    validate_session(session(registration_url="https://x.dev/r", capacity=10), NOW)


def test_every_bad_course_field_is_named_at_once() -> None:
    bad = dataclasses.replace(
        COURSE,
        title=" ",
        duration=dt.timedelta(0),
        features=("Bad Feature",),
        target_roles=("Data Analyst",),
        learning_outcomes=(LearningOutcome("dashboards", " "),),
    )
    with pytest.raises(InvalidArgument) as err:
        validate_course(bad)
    assert fields(err) == {
        "course.title",
        "course.duration",
        "course.features[0]",
        "course.target_roles[0]",
        "course.learning_outcomes[0].text",
    }


def test_every_bad_session_field_is_named_at_once() -> None:
    bad = session(
        time_zone="Mars/Base",
        start_time=NOW - dt.timedelta(hours=1),
        capacity=-5,
        join_url="javascript:alert(1)",
        registration_url="ftp://x",
    )
    with pytest.raises(InvalidArgument) as err:
        validate_session(bad, NOW)
    assert fields(err) == {
        "training_session.time_zone",
        "training_session.start_time",
        "training_session.capacity",
        "training_session.join_url",
        "training_session.registration_url",
    }


def test_session_names() -> None:
    sid = uuid.uuid4()
    assert parse_session_name(f"training-sessions/{sid}") == sid
    for bad in ("sessions/1", "training-sessions/not-a-uuid", ""):
        with pytest.raises(InvalidArgument):
            parse_session_name(bad)


def test_a_new_start_is_a_reschedule_and_a_new_link_an_update() -> None:
    s = session()
    later = s.start_time + dt.timedelta(days=1)
    moved, kind = update_session(s, {"start_time": later}, ["start_time"], s.etag, NOW)
    assert (moved.start_time, moved.version, kind) == (later, 2, ChangeKind.RESCHEDULED)
    _, kind = update_session(s, {"join_url": "https://x.dev/j"}, ["join_url"], "", NOW)
    assert kind is ChangeKind.UPDATED
    same, kind = update_session(s, {"presenter": ""}, ["presenter"], "", NOW)
    assert kind is None and same.version == 2


def test_a_stale_etag_or_an_unknown_path_is_refused() -> None:
    s = session(version=3)
    with pytest.raises(Aborted):
        update_session(s, {"capacity": 5}, ["capacity"], '"2"', NOW)
    with pytest.raises(InvalidArgument) as err:
        update_session(s, {}, ["course"], s.etag, NOW)
    assert fields(err) == {"update_mask"}
    with pytest.raises(Aborted):
        update_course(COURSE, {"title": "New"}, ["title"], '"7"', NOW)


def test_cancelling_is_once_and_only_before_the_start() -> None:
    s = session()
    cancelled = cancel_session(s, s.etag, "presenter ill", NOW)
    assert cancelled is not None and cancelled.state is SessionState.CANCELLED
    assert cancel_session(cancelled, "", "again", NOW) is None
    with pytest.raises(FailedPrecondition):
        cancel_session(session(start_time=NOW - dt.timedelta(minutes=1)), "", "", NOW)
    with pytest.raises(FailedPrecondition):
        update_session(cancelled, {"capacity": 5}, ["capacity"], "", NOW)


@pytest.mark.parametrize(
    ("current", "kind", "after"),
    [
        (None, "registered", "registered"),
        ("registered", "registered", None),
        ("registered", "cancelled", "cancelled"),
        ("cancelled", "registered", "registered"),
        ("registered", "attended", "attended"),
        ("attended", "registered", None),
        ("attended", "cancelled", None),
        ("attended", "no_show", None),
        ("registered", "no_show", "no_show"),
        ("no_show", "attended", "attended"),
    ],
)
def test_attendance_never_goes_backwards(current: str | None, kind: str, after: str | None) -> None:
    assert registration_transition(current, kind) == after


def test_seats_left_and_full() -> None:
    assert session(capacity=0, seats_taken=50).seats_left is None
    assert session(capacity=2, seats_taken=1).seats_left == 1
    assert session(capacity=2, seats_taken=2).full


def test_noise_words_are_dropped_from_a_csms_topic() -> None:
    assert topic_query("Invite the team to Advanced Analytics training").terms == (
        "advanced",
        "analytics",
    )
    assert topic_query("training").terms == ("training",)  # nothing else to go on
