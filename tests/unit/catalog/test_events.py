"""The catalog's events on the wire: what the registry writes to the outbox for each of them."""

from __future__ import annotations

import datetime as dt

from trainvite.catalog.v1 import catalog_pb2
from trainvite.events.v1 import events_pb2

from services.catalog.adapters.events import event_registry
from services.catalog.domain.events import AttendanceRecorded
from services.catalog.domain.model import Registration, ScheduledSession
from services.common.messaging.topology import Topology
from tests.unit.catalog.examples import COURSE, NOW, scheduled

START = dt.datetime(2026, 12, 3, 15, tzinfo=dt.UTC)
SESSION = scheduled(start_time=START, time_zone="Europe/Berlin", capacity=20, seats_taken=20)
TOPOLOGY = Topology("unit")


def _sent(aggregate: ScheduledSession) -> tuple[str, events_pb2.TrainingSessionChanged, str]:
    (event,) = aggregate.pending_events
    row = event_registry(TOPOLOGY, lambda: NOW).to_outbox(event)
    assert row.event_id == str(event.event_id)
    return row.subject, events_pb2.TrainingSessionChanged.FromString(row.payload), row.event_id


def test_a_reschedule_carries_the_session_as_it_is_now_and_the_time_it_had() -> None:
    later = START + dt.timedelta(days=1)
    moved = SESSION.change(
        {"start_time": later, "time_zone": "Asia/Tokyo"},
        ["start_time", "time_zone"],
        "",
        NOW,
        "editor@trainvite.dev",
    )
    subject, message, event_id = _sent(moved)

    assert subject == TOPOLOGY.session_changed
    assert message.event_id == event_id
    assert message.occur_time.ToDatetime(tzinfo=dt.UTC) == NOW
    assert message.kind == events_pb2.SESSION_CHANGE_KIND_RESCHEDULED
    assert message.previous_start_time.ToDatetime(tzinfo=dt.UTC) == START
    assert (message.previous_time_zone, message.reason, message.changed_by) == (
        "Europe/Berlin",
        "",
        "editor@trainvite.dev",
    )
    sent = message.training_session
    assert (sent.name, sent.course, sent.title) == (SESSION.session.name, COURSE.name, COURSE.title)
    assert sent.start_time.ToDatetime(tzinfo=dt.UTC) == later
    assert (sent.time_zone, sent.etag, sent.state) == (
        "Asia/Tokyo",
        '"2"',
        catalog_pb2.SESSION_STATE_SCHEDULED,
    )
    assert (sent.capacity, sent.seats_taken, sent.seats_left, sent.full) == (20, 20, 0, True)
    assert sent.duration.ToTimedelta() == dt.timedelta(minutes=60)


def test_a_cancellation_carries_its_reason_and_no_previous_time() -> None:
    cancelled = SESSION.cancel("", "the presenter is ill", NOW, "editor@trainvite.dev")
    _, message, _ = _sent(cancelled)
    assert message.kind == events_pb2.SESSION_CHANGE_KIND_CANCELLED
    assert message.reason == "the presenter is ill"
    assert message.training_session.cancel_reason == "the presenter is ill"
    assert message.training_session.state == catalog_pb2.SESSION_STATE_CANCELLED
    assert not message.HasField("previous_start_time") and message.previous_time_zone == ""


def test_a_new_length_is_an_update_with_the_new_end() -> None:
    longer = COURSE.change({"duration": dt.timedelta(minutes=90)}, ["duration"], "", NOW)
    _, message, _ = _sent(SESSION.follow_course(longer, NOW, "editor@trainvite.dev"))
    assert message.kind == events_pb2.SESSION_CHANGE_KIND_UPDATED
    assert message.training_session.duration.ToTimedelta() == dt.timedelta(minutes=90)
    assert not message.HasField("previous_start_time") and message.reason == ""


def test_a_registration_change_carries_both_states_and_the_seats_left() -> None:
    three_seats = scheduled(capacity=3, seats_taken=1)
    none = Registration(three_seats.session.id, "ana@cloudtech.example")
    moved = three_seats.register(none, [], "", NOW)
    event, told = moved.session.pending_events
    assert isinstance(told, AttendanceRecorded)  # see test_seats_taken_and_given_up_are_told
    row = event_registry(TOPOLOGY, lambda: NOW).to_outbox(event)
    message = events_pb2.RegistrationChanged.FromString(row.payload)

    assert row.subject == TOPOLOGY.registration_changed
    assert (message.event_id, message.occur_time.ToDatetime(tzinfo=dt.UTC)) == (row.event_id, NOW)
    assert (message.training_session, message.email) == (
        three_seats.session.name,
        "ana@cloudtech.example",
    )
    assert message.state == catalog_pb2.REGISTRATION_STATE_REGISTERED
    assert message.previous_state == catalog_pb2.REGISTRATION_STATE_UNSPECIFIED
    assert message.HasField("seats_left") and message.seats_left == 1
    assert message.waitlist_position == 0

    unlimited = scheduled(capacity=0)
    none = Registration(unlimited.session.id, "ana@cloudtech.example")
    event, _ = unlimited.register(none, [], "", NOW).session.pending_events
    row = event_registry(TOPOLOGY, lambda: NOW).to_outbox(event)
    assert not events_pb2.RegistrationChanged.FromString(row.payload).HasField("seats_left")


def test_seats_taken_and_given_up_are_told_as_attendance_facts() -> None:
    """A registration through the link is a source of attendance like a webinar tool: a seat
    taken, a seat given up and a seat given from the waitlist are AttendanceRecorded (with the
    invitation and a source saying where they came from); a place on the waitlist is not."""
    one_seat = scheduled(capacity=1)
    draft = "customers/cloudtech/invitation-batches/b1/drafts/d1"
    ana = Registration(one_seat.session.id, "ana@cloudtech.example")
    seated = one_seat.register(ana, [], draft, NOW)
    told = [e for e in seated.session.pending_events if isinstance(e, AttendanceRecorded)]
    assert [(e.email, e.kind, e.source, e.invitation) for e in told] == [
        ("ana@cloudtech.example", "registered", "registration-link", draft)
    ]
    row = event_registry(TOPOLOGY, lambda: NOW).to_outbox(told[0])
    assert row.subject == TOPOLOGY.attendance_recorded
    message = events_pb2.AttendanceRecorded.FromString(row.payload)
    assert message.kind == events_pb2.ATTENDANCE_KIND_REGISTERED and message.invitation == draft

    full = ScheduledSession(seated.session.session, seated.session.course)
    ben = Registration(full.session.id, "ben@cloudtech.example")
    waiting = full.register(ben, [], "", NOW)
    assert not [e for e in waiting.session.pending_events if isinstance(e, AttendanceRecorded)]

    (ben_waiting,) = waiting.moved
    (ana_seated,) = seated.moved
    after = ScheduledSession(waiting.session.session, waiting.session.course)
    left = after.cancel_registration(ana_seated, [ben_waiting], NOW)
    told = [e for e in left.session.pending_events if isinstance(e, AttendanceRecorded)]
    assert sorted((e.email, e.kind, e.source) for e in told) == [
        ("ana@cloudtech.example", "cancelled", "registration-link"),
        ("ben@cloudtech.example", "registered", "catalog"),
    ]
    assert len({e.event_id for e in told}) == 2
