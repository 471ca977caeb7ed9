"""The catalog's rules: courses, sessions, changes, seats and a CSM's search words."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest

from services.catalog.domain.events import ChangeKind, SessionChanged
from services.catalog.domain.model import (
    CourseState,
    LearningOutcome,
    Registration,
    ScheduledSession,
    SessionState,
    topic_query,
    validate_course,
    validate_session,
)
from services.catalog.domain.names import parse_course_name, parse_session_name
from services.common.errors import Aborted, FailedPrecondition, InvalidArgument
from tests.unit.catalog.examples import COURSE, NOW, scheduled, session


def recorded(aggregate: ScheduledSession) -> list[tuple[ChangeKind, str]]:
    events = aggregate.pending_events
    assert all(isinstance(e, SessionChanged) for e in events)
    return [(e.kind, e.session.name) for e in events if isinstance(e, SessionChanged)]


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


def test_names() -> None:
    sid = uuid.uuid4()
    assert parse_session_name(f"training-sessions/{sid}") == sid
    assert parse_course_name(f"courses/{sid}") == sid
    for bad in ("sessions/1", "training-sessions/not-a-uuid", "", f"courses/{sid}"):
        with pytest.raises(InvalidArgument):
            parse_session_name(bad)
    assert session(id=sid).name == f"training-sessions/{sid}"


def test_a_new_start_is_a_reschedule_and_a_new_link_an_update() -> None:
    s = scheduled()
    later = s.session.start_time + dt.timedelta(days=1)
    moved = s.change({"start_time": later}, ["start_time"], s.session.etag, NOW, "ed")
    assert (moved.session.start_time, moved.session.version) == (later, 2)
    assert recorded(moved) == [(ChangeKind.RESCHEDULED, s.session.name)]
    zone = s.change({"time_zone": "Asia/Tokyo"}, ["time_zone"], "", NOW, "ed")
    assert recorded(zone) == [(ChangeKind.RESCHEDULED, s.session.name)]
    linked = s.change({"join_url": "https://x.dev/j"}, ["join_url"], "", NOW, "ed")
    assert recorded(linked) == [(ChangeKind.UPDATED, s.session.name)]
    same = s.change({"presenter": ""}, ["presenter"], "", NOW, "ed")
    assert recorded(same) == [] and same.session.version == 2
    assert s.pending_events == ()


def test_a_stale_etag_or_an_unknown_path_is_refused() -> None:
    s = scheduled(version=3)
    with pytest.raises(Aborted):
        s.change({"capacity": 5}, ["capacity"], '"2"', NOW, "ed")
    with pytest.raises(InvalidArgument) as err:
        s.change({}, ["course"], s.session.etag, NOW, "ed")
    assert fields(err) == {"update_mask"}
    with pytest.raises(Aborted):
        COURSE.change({"title": "New"}, ["title"], '"7"', NOW)


def test_capacity_cannot_go_below_the_seats_taken() -> None:
    s = scheduled(capacity=10, seats_taken=4)
    with pytest.raises(FailedPrecondition):
        s.change({"capacity": 3}, ["capacity"], "", NOW, "ed")
    assert s.change({"capacity": 0}, ["capacity"], "", NOW, "ed").session.capacity == 0


def test_cancelling_is_once_and_only_before_the_start() -> None:
    s = scheduled()
    cancelled = s.cancel(s.session.etag, "presenter ill", NOW, "ed")
    assert cancelled.session.state is SessionState.CANCELLED
    assert recorded(cancelled) == [(ChangeKind.CANCELLED, s.session.name)]
    again = cancelled.cancel("", "again", NOW, "ed")
    assert again is cancelled and again.session.cancel_reason == "presenter ill"
    with pytest.raises(FailedPrecondition):
        scheduled(start_time=NOW - dt.timedelta(minutes=1)).cancel("", "", NOW, "ed")
    with pytest.raises(FailedPrecondition):
        cancelled.change({"capacity": 5}, ["capacity"], "", NOW, "ed")


def test_a_session_follows_its_course_only_while_upcoming() -> None:
    s = scheduled()
    longer = COURSE.change({"duration": dt.timedelta(minutes=90)}, ["duration"], "", NOW)
    assert recorded(s.follow_course(longer, NOW, "ed")) == [(ChangeKind.UPDATED, s.session.name)]
    renamed = COURSE.change({"title": "Dashboards 102"}, ["title"], "", NOW)
    followed = s.follow_course(renamed, NOW, "ed")
    assert followed.course.title == "Dashboards 102" and recorded(followed) == []
    retired = COURSE.cancel("", NOW)
    ended = s.follow_course(retired, NOW, "ed")
    assert ended.session.state is SessionState.CANCELLED
    assert recorded(ended) == [(ChangeKind.CANCELLED, s.session.name)]
    begun = scheduled(start_time=NOW - dt.timedelta(minutes=1))
    assert recorded(begun.follow_course(retired, NOW, "ed")) == []
    assert recorded(begun.follow_course(longer, NOW, "ed")) == []
    with pytest.raises(ValueError):
        s.follow_course(dataclasses.replace(COURSE, id=uuid.uuid4()), NOW, "ed")


def test_a_course_is_retired_once() -> None:
    retired = COURSE.cancel(COURSE.etag, NOW)
    assert (retired.state, retired.version) == (CourseState.CANCELLED, 2)
    assert retired.cancel('"1"', NOW) is retired
    with pytest.raises(FailedPrecondition):
        retired.change({"title": "x"}, ["title"], "", NOW)


@pytest.mark.parametrize(
    ("current", "kind", "after"),
    [
        (None, "registered", "registered"),
        ("registered", "registered", "registered"),
        ("registered", "cancelled", "cancelled"),
        ("cancelled", "registered", "registered"),
        ("registered", "attended", "attended"),
        ("attended", "registered", "attended"),
        ("attended", "cancelled", "attended"),
        ("attended", "no_show", "attended"),
        ("registered", "no_show", "no_show"),
        ("no_show", "attended", "attended"),
    ],
)
def test_attendance_never_goes_backwards(current: str | None, kind: str, after: str) -> None:
    started = scheduled(start_time=NOW - dt.timedelta(hours=1))
    before = Registration(started.session.id, "a@x.example", current)
    seating = started.apply_attendance(before, kind, [], NOW)
    moved = seating.moved[0] if seating.moved else before
    assert moved.state == after
    assert (not seating.moved) == (current == after)


def test_attending_before_the_start_is_refused() -> None:
    ahead = scheduled()
    with pytest.raises(InvalidArgument):
        ahead.apply_attendance(Registration(ahead.session.id, "a@x.example"), "no_show", [], NOW)
    seating = ahead.apply_attendance(
        Registration(ahead.session.id, "a@x.example"), "registered", [], NOW
    )
    assert seating.moved[0].holds_seat
    with pytest.raises(ValueError):
        ahead.apply_attendance(Registration(uuid.uuid4(), "a@x.example"), "registered", [], NOW)


def test_seats_taken_count_the_seat_holders() -> None:
    s = scheduled(seats_taken=3)
    none = Registration(s.session.id, "a@x.example")
    registered = s.apply_attendance(none, "registered", [], NOW)
    assert registered.session.session.seats_taken == 4
    cancelled = registered.session.apply_attendance(registered.moved[0], "cancelled", [], NOW)
    assert cancelled.session.session.seats_taken == 3
    assert s.apply_attendance(none, "cancelled", [], NOW).session.session.seats_taken == 3


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


def test_recorded_attendance_cannot_be_cancelled() -> None:
    s = scheduled(start_time=NOW + dt.timedelta(minutes=10))  # within the clocks' skew
    attended = s.apply_attendance(Registration(s.session.id, "a@x.example"), "attended", [], NOW)
    with pytest.raises(FailedPrecondition):
        attended.session.cancel_registration(attended.moved[0], [], NOW)
