"""Calendar sync on the in-memory dispatcher: a registration through an invitation puts the
person on the session's event in the inviting CSM's calendar, once; a cancellation takes them
off; the event moves with its session and is cancelled with it, in every inviting CSM's
calendar; what the calendar refuses is dead-lettered with the reason, what may pass is
retried."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import uuid
from typing import Any, cast

import httplib2
import pytest
from googleapiclient.errors import HttpError
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.msg import Msg
from trainvite.catalog.v1 import catalog_pb2
from trainvite.events.v1 import events_pb2

from services.common.errors import FailedPrecondition, NotFound
from services.common.messaging.consumer import PoisonMessage
from services.common.messaging.topology import Topology
from services.dispatcher.adapters.calendar import classify
from services.dispatcher.api.subscriptions import (
    calendar_handler,
    calendar_sessions_handler,
    registration_moved,
    subscriptions,
)
from services.dispatcher.api.subscriptions import session_moved as session_moved_from
from services.dispatcher.domain.calendar import (
    RegistrationMoved,
    SessionCalendarChange,
    SessionEvent,
    SessionMoved,
    calendar_event_id,
)
from services.dispatcher.domain.model import MessagePurpose
from services.dispatcher.service_layer.calendar import follow_session, sync_registration
from services.dispatcher.service_layer.ports import (
    CalendarRefusedError,
    CalendarUnavailableError,
)
from tests.fakes.dispatcher import (
    SENDER,
    FakeCalendar,
    FakeDispatcher,
    approved,
    fake_dispatcher,
)
from tests.fuzz.strategies import messages

SESSION = f"training-sessions/{uuid.UUID(int=7)}"
EVENT_ID = calendar_event_id(SESSION)
START = dt.datetime(2026, 12, 15, 16, 0, tzinfo=dt.UTC)
TOPOLOGY = Topology("unit")


def session_event(cancelled: bool = False) -> SessionEvent:
    return SessionEvent.of_session(
        training_session=SESSION,
        title="Advanced Analytics",
        description="Dashboards that answer questions.",
        start=START,
        duration=dt.timedelta(minutes=45),
        time_zone="Europe/Paris",
        join_url="https://zoom.example/j/123",
        cancelled=cancelled,
    )


async def with_calendar(*invited: int, cancelled: bool = False) -> FakeDispatcher:
    """A dispatcher with calendar sync on, the session in the catalog, and the n-th invitations
    of a batch delivered from Alex's mailbox."""
    f = fake_dispatcher(with_calendar=True)
    assert f.sessions is not None
    f.sessions.sessions[SESSION] = session_event(cancelled)
    for n in invited:
        await f.add(dataclasses.replace(approved(n), training_session=SESSION))
    return f


def move(
    n: int,
    state: str = "registered",
    previous: str = "",
    email: str | None = None,
    invitation: str | None = None,
) -> RegistrationMoved:
    return RegistrationMoved(
        event_id=uuid.uuid4(),
        training_session=SESSION,
        email=email or f"person{n}@northwind.example",
        state=state,
        previous_state=previous,
        invitation=approved(n).invitation if invitation is None else invitation,
    )


def calendar_of(f: FakeDispatcher) -> FakeCalendar:
    assert f.calendar is not None
    return f.calendar


# --------------------------------------------------------------------------------------------
# The event id


def test_the_event_id_is_base32hex_fixed_per_session_and_distinct_between_sessions() -> None:
    other = f"training-sessions/{uuid.UUID(int=8)}"
    assert re.fullmatch(r"[a-v0-9]{5,1024}", EVENT_ID)
    assert calendar_event_id(SESSION) == EVENT_ID
    assert calendar_event_id(other) != EVENT_ID
    with pytest.raises(ValueError):
        calendar_event_id("sessions/analytics-101")


# --------------------------------------------------------------------------------------------
# Registrations and cancellations


async def test_a_registration_creates_the_event_in_the_csms_calendar_with_the_person() -> None:
    f = await with_calendar(1)
    first = move(1)
    assert await sync_registration(f.deps, first)
    entry = calendar_of(f).entries[(SENDER, EVENT_ID)]
    assert entry.attendees == ["person1@northwind.example"]
    assert entry.event.title == "Advanced Analytics"
    assert entry.event.location == "https://zoom.example/j/123"
    assert entry.event.end - entry.event.start == dt.timedelta(minutes=45)
    assert first.applied_key in f.store.processed


async def test_a_second_person_joins_the_same_event_keeping_the_first() -> None:
    f = await with_calendar(1, 2)
    assert await sync_registration(f.deps, move(1))
    assert await sync_registration(f.deps, move(2))
    assert calendar_of(f).attendees(SENDER, EVENT_ID) == [
        "person1@northwind.example",
        "person2@northwind.example",
    ]
    assert len(calendar_of(f).entries) == 1


async def test_a_replayed_event_calls_nothing() -> None:
    f = await with_calendar(1)
    first = move(1)
    assert await sync_registration(f.deps, first)
    calls = list(calendar_of(f).calls)
    assert not await sync_registration(f.deps, first)
    assert calendar_of(f).calls == calls


async def test_an_event_tracking_applied_already_is_still_applied_to_the_calendar() -> None:
    """Tracking marks the same event applied in the same schema: that is not a replay here."""
    f = await with_calendar(1)
    first = move(1)
    f.store.processed.add(first.event_id)
    assert await sync_registration(f.deps, first)
    assert calendar_of(f).attendees(SENDER, EVENT_ID) == ["person1@northwind.example"]


async def test_someone_already_on_the_event_changes_nothing() -> None:
    f = await with_calendar(1)
    assert await sync_registration(f.deps, move(1))
    # Another event for the same registration (the address cased otherwise): nothing to write.
    assert not await sync_registration(f.deps, move(1, email="Person1@Northwind.example"))
    assert calendar_of(f).writes == 1


async def test_a_promotion_from_the_waitlist_adds_the_person() -> None:
    f = await with_calendar(1)
    assert not await sync_registration(f.deps, move(1, state="waitlisted"))
    assert calendar_of(f).calls == []
    assert await sync_registration(f.deps, move(1, previous="waitlisted"))
    assert calendar_of(f).attendees(SENDER, EVENT_ID) == ["person1@northwind.example"]


async def test_a_cancellation_takes_the_person_off_the_event() -> None:
    f = await with_calendar(1, 2)
    await sync_registration(f.deps, move(1))
    await sync_registration(f.deps, move(2))
    assert await sync_registration(f.deps, move(1, state="cancelled", previous="registered"))
    assert calendar_of(f).attendees(SENDER, EVENT_ID) == ["person2@northwind.example"]
    # Cancelled again by another event: not there any more, nothing written.
    assert not await sync_registration(f.deps, move(1, state="cancelled", previous="registered"))
    assert calendar_of(f).writes == 3


async def test_leaving_the_waitlist_touches_no_calendar() -> None:
    f = await with_calendar(1)
    assert not await sync_registration(f.deps, move(1, state="cancelled", previous="waitlisted"))
    assert calendar_of(f).calls == []


@pytest.mark.parametrize(
    "moved",
    [
        move(1, invitation=""),  # registered by other means: no CSM invited them
        move(1, state="attended", previous="registered"),
        move(1, state="no_show", previous="registered"),
    ],
    ids=["no invitation", "attended", "no show"],
)
async def test_moves_that_change_no_calendar_call_nothing(moved: RegistrationMoved) -> None:
    f = await with_calendar(1)
    assert not await sync_registration(f.deps, moved)
    assert calendar_of(f).calls == []
    assert f.store.processed == set()


async def test_with_calendar_sync_off_nothing_is_called() -> None:
    f = fake_dispatcher()
    await f.add(dataclasses.replace(approved(1), training_session=SESSION))
    assert f.deps.calendar_sync is None
    assert not await sync_registration(f.deps, move(1))
    assert f.store.processed == set()


async def test_a_registration_in_a_session_cancelled_since_creates_no_event() -> None:
    f = await with_calendar(1, cancelled=True)
    first = move(1)
    assert not await sync_registration(f.deps, first)
    assert calendar_of(f).calls == []
    assert first.applied_key in f.store.processed


async def test_the_event_is_in_the_calendar_of_the_csm_who_sent_the_invitation() -> None:
    f = await with_calendar()
    jordan = "jordan.blake@trainvite.dev"
    await f.add(dataclasses.replace(approved(3, sender=jordan), training_session=SESSION))
    assert await sync_registration(f.deps, move(3))
    assert calendar_of(f).attendees(jordan, EVENT_ID) == ["person3@northwind.example"]
    assert calendar_of(f).attendees(SENDER, EVENT_ID) is None


# --------------------------------------------------------------------------------------------
# Failures


async def test_an_invitation_this_dispatcher_never_delivered_is_refused() -> None:
    f = await with_calendar()
    with pytest.raises(NotFound, match="never delivered"):
        await sync_registration(f.deps, move(9))
    assert calendar_of(f).calls == []


async def test_an_invitation_to_another_session_is_refused() -> None:
    f = await with_calendar()
    await f.add(approved(1))  # to sessions/analytics-101
    with pytest.raises(FailedPrecondition, match="not to"):
        await sync_registration(f.deps, move(1))


async def test_a_calendar_away_leaves_the_event_for_the_redelivery() -> None:
    f = await with_calendar(1)
    first = move(1)
    calendar_of(f).failures.append(CalendarUnavailableError("503 backendError"))
    with pytest.raises(CalendarUnavailableError):
        await sync_registration(f.deps, first)
    assert first.applied_key not in f.store.processed
    assert await sync_registration(f.deps, first)  # the redelivery
    assert calendar_of(f).attendees(SENDER, EVENT_ID) == ["person1@northwind.example"]


# --------------------------------------------------------------------------------------------
# The consumer's entry point


def registration_changed(**fields: Any) -> bytes:
    event = events_pb2.RegistrationChanged(
        event_id=str(uuid.uuid4()),
        training_session=SESSION,
        email="person1@northwind.example",
        state=catalog_pb2.REGISTRATION_STATE_REGISTERED,
        invitation=approved(1).invitation,
    )
    for name, value in fields.items():
        setattr(event, name, value)
    return event.SerializeToString()


def msg(data: bytes) -> Msg:
    return cast(Msg, type("Msg", (), {"subject": TOPOLOGY.registration_changed, "data": data})())


def test_the_decoder_takes_a_registration_through_an_invitation() -> None:
    moved = registration_moved(
        registration_changed(previous_state=catalog_pb2.REGISTRATION_STATE_WAITLISTED)
    )
    assert moved.training_session == SESSION
    assert (moved.state, moved.previous_state) == ("registered", "waitlisted")
    assert moved.invitation == approved(1).invitation


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"training_session": "sessions/analytics-101"}, "training_session"),
        ({"email": "nobody"}, "email"),
        ({"state": catalog_pb2.REGISTRATION_STATE_UNSPECIFIED}, "state"),
        ({"state": 99}, "state"),
        ({"invitation": "customers/x/drafts/1"}, "invitation"),
        ({"event_id": "not-a-uuid"}, "event_id"),
    ],
)
def test_the_decoder_names_what_is_wrong(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(PoisonMessage, match=f"^{reason}"):
        registration_moved(registration_changed(**fields))


@given(
    st.one_of(
        messages(
            events_pb2.RegistrationChanged,
            known_ids=[SESSION, approved(1).invitation, "person1@northwind.example"],
        ).map(lambda m: m.SerializeToString()),
        st.binary(max_size=256),
    )
)
def test_the_decoder_decodes_or_says_why_not(payload: bytes) -> None:
    try:
        moved = registration_moved(payload)
    except PoisonMessage as exc:
        assert str(exc).strip()
        return
    assert calendar_event_id(moved.training_session)


async def test_with_calendar_sync_off_the_consumer_acknowledges_anything() -> None:
    f = fake_dispatcher()
    handle = calendar_handler(f.deps, TOPOLOGY)
    await handle(msg(registration_changed()))
    await handle(msg(b"\xff not even a message"))
    assert f.store.processed == set()


async def test_a_refusal_from_the_calendar_is_dead_lettered_with_its_reason() -> None:
    f = await with_calendar(1)
    refused = "Google Calendar refused to act as alex.rivera@trainvite.dev: 403 forbidden"
    calendar_of(f).failures.append(CalendarRefusedError(refused))
    handle = calendar_handler(f.deps, TOPOLOGY)
    with pytest.raises(PoisonMessage, match="403 forbidden"):
        await handle(msg(registration_changed()))


async def test_a_passing_failure_reaches_the_consumer_as_one_to_retry() -> None:
    f = await with_calendar(1)
    calendar_of(f).failures.append(CalendarUnavailableError("429 rateLimitExceeded"))
    handle = calendar_handler(f.deps, TOPOLOGY)
    with pytest.raises(CalendarUnavailableError):
        await handle(msg(registration_changed()))
    await handle(msg(registration_changed()))
    assert calendar_of(f).attendees(SENDER, EVENT_ID) == ["person1@northwind.example"]


# --------------------------------------------------------------------------------------------
# Google's answers


@pytest.mark.parametrize(
    ("status", "reason", "kind"),
    [
        (429, "rateLimitExceeded", CalendarUnavailableError),
        (403, "rateLimitExceeded", CalendarUnavailableError),
        (403, "userRateLimitExceeded", CalendarUnavailableError),
        (403, "quotaExceeded", CalendarUnavailableError),
        (500, "backendError", CalendarUnavailableError),
        (503, "backendError", CalendarUnavailableError),
        (403, "forbidden", CalendarRefusedError),
        (403, "insufficientPermissions", CalendarRefusedError),
        (401, "authError", CalendarRefusedError),
        (400, "invalid", CalendarRefusedError),
    ],
)
def test_googles_answers_are_refusals_or_passing_failures(
    status: int, reason: str, kind: type[Exception]
) -> None:
    body = {"error": {"code": status, "message": "said so", "errors": [{"reason": reason}]}}
    error = HttpError(httplib2.Response({"status": status}), json.dumps(body).encode())
    classified = classify(error, SENDER)
    assert type(classified) is kind
    assert f"{status} {reason} said so" in str(classified)


# --------------------------------------------------------------------------------------------
# The session moves or is cancelled

JORDAN = "jordan.blake@trainvite.dev"
LATER = START + dt.timedelta(hours=2)


def session_moved(
    start: dt.datetime = LATER,
    previous_start: dt.datetime | None = START,
    cancelled: bool = False,
) -> SessionMoved:
    return SessionMoved(
        event_id=uuid.uuid4(),
        training_session=SESSION,
        start=start,
        time_zone="Europe/Paris",
        previous_start=previous_start,
        previous_time_zone="Europe/Paris" if previous_start is not None else "",
        cancelled=cancelled,
    )


async def on_two_calendars() -> FakeDispatcher:
    """Alex's and Jordan's invitees registered: the event is in both calendars."""
    f = await with_calendar(1)
    await f.add(dataclasses.replace(approved(3, sender=JORDAN), training_session=SESSION))
    assert await sync_registration(f.deps, move(1))
    assert await sync_registration(f.deps, move(3))
    return f


def rescheduled_in_the_catalog(f: FakeDispatcher, start: dt.datetime = LATER) -> None:
    assert f.sessions is not None
    f.sessions.sessions[SESSION] = dataclasses.replace(
        session_event(), start=start, end=start + dt.timedelta(minutes=45)
    )


def event_in(f: FakeDispatcher, organizer: str) -> SessionEvent:
    return calendar_of(f).entries[(organizer, EVENT_ID)].event


def session_calls(f: FakeDispatcher) -> list[tuple[str, str, str, str]]:
    return [c for c in calendar_of(f).calls if c[0] in ("move", "cancel")]


async def test_a_reschedule_moves_the_event_in_each_inviting_csms_calendar_once() -> None:
    f = await on_two_calendars()
    rescheduled_in_the_catalog(f)
    moved = session_moved()
    assert await follow_session(f.deps, moved)
    for organizer in (SENDER, JORDAN):
        event = event_in(f, organizer)
        assert (event.start, event.end) == (LATER, LATER + dt.timedelta(minutes=45))
    assert session_calls(f) == [
        ("move", SENDER, EVENT_ID, ""),
        ("move", JORDAN, EVENT_ID, ""),
    ]
    # The attendees stay on the moved event.
    assert calendar_of(f).attendees(SENDER, EVENT_ID) == ["person1@northwind.example"]
    assert moved.applied_key in f.store.processed


async def test_a_replayed_reschedule_calls_nothing() -> None:
    f = await on_two_calendars()
    rescheduled_in_the_catalog(f)
    moved = session_moved()
    assert await follow_session(f.deps, moved)
    calls = list(calendar_of(f).calls)
    assert not await follow_session(f.deps, moved)
    assert calendar_of(f).calls == calls


async def test_the_event_takes_the_session_as_the_catalog_has_it_now() -> None:
    """An older reschedule redelivered after a newer one does not move the event back."""
    f = await on_two_calendars()
    latest = START + dt.timedelta(days=1)
    rescheduled_in_the_catalog(f, latest)
    assert await follow_session(f.deps, session_moved(start=LATER))
    assert event_in(f, SENDER).start == latest


async def test_a_cancelled_session_cancels_its_event_in_each_calendar() -> None:
    f = await on_two_calendars()
    assert await follow_session(f.deps, session_moved(start=START, cancelled=True))
    assert event_in(f, SENDER).cancelled and event_in(f, JORDAN).cancelled
    assert session_calls(f) == [
        ("cancel", SENDER, EVENT_ID, ""),
        ("cancel", JORDAN, EVENT_ID, ""),
    ]
    # Cancelled again by another event: nothing left to cancel.
    assert not await follow_session(f.deps, session_moved(start=START, cancelled=True))


async def test_a_reschedule_of_a_session_cancelled_since_cancels_the_event() -> None:
    f = await on_two_calendars()
    assert f.sessions is not None
    f.sessions.sessions[SESSION] = session_event(cancelled=True)
    assert await follow_session(f.deps, session_moved())
    assert [c[0] for c in session_calls(f)] == ["cancel", "cancel"]
    assert event_in(f, SENDER).start == START


async def test_a_calendar_without_the_event_is_left_as_it_is() -> None:
    """Jordan invited someone who never registered: no event in Jordan's calendar."""
    f = await with_calendar(1)
    await f.add(dataclasses.replace(approved(3, sender=JORDAN), training_session=SESSION))
    assert await sync_registration(f.deps, move(1))
    rescheduled_in_the_catalog(f)
    assert await follow_session(f.deps, session_moved())
    assert event_in(f, SENDER).start == LATER
    assert (JORDAN, EVENT_ID) not in calendar_of(f).entries


async def test_only_the_senders_of_invitations_are_asked_each_mailbox_once() -> None:
    f = await on_two_calendars()
    # A notice from another mailbox, and an invitation from Alex's address cased otherwise.
    notice = approved(4, sender="notices@trainvite.dev", purpose=MessagePurpose.NOTICE)
    await f.add(dataclasses.replace(notice, training_session=SESSION))
    cased = approved(5, sender=SENDER.upper())
    await f.add(dataclasses.replace(cased, training_session=SESSION))
    rescheduled_in_the_catalog(f)
    assert await follow_session(f.deps, session_moved())
    assert [c[1].lower() for c in session_calls(f)] == [SENDER, JORDAN]


async def test_a_session_nobody_was_invited_to_calls_nothing() -> None:
    f = await with_calendar()
    rescheduled_in_the_catalog(f)
    assert not await follow_session(f.deps, session_moved())
    assert calendar_of(f).calls == []


async def test_a_change_that_leaves_the_session_where_it_was_calls_nothing() -> None:
    """New links, presenter or capacity: the change says the start before, and it is the same."""
    f = await on_two_calendars()
    unmoved = session_moved(start=START, previous_start=START)
    assert not await follow_session(f.deps, unmoved)
    assert session_calls(f) == []
    assert unmoved.applied_key not in f.store.processed


async def test_a_new_length_of_the_course_moves_the_events_end() -> None:
    """The catalog says a new length without the times before it: the event takes the session
    as the catalog has it now."""
    f = await on_two_calendars()
    assert f.sessions is not None
    longer = dt.timedelta(minutes=90)
    f.sessions.sessions[SESSION] = dataclasses.replace(session_event(), end=START + longer)
    assert await follow_session(f.deps, session_moved(start=START, previous_start=None))
    assert (event_in(f, SENDER).start, event_in(f, SENDER).end) == (START, START + longer)
    assert [c[0] for c in session_calls(f)] == ["move", "move"]


async def test_a_new_time_zone_alone_moves_the_event() -> None:
    f = await on_two_calendars()
    rezoned = dataclasses.replace(session_moved(start=START), previous_time_zone="Europe/London")
    assert await follow_session(f.deps, rezoned)
    assert [c[0] for c in session_calls(f)] == ["move", "move"]


async def test_with_calendar_sync_off_a_session_change_calls_nothing() -> None:
    f = fake_dispatcher()
    await f.add(dataclasses.replace(approved(1), training_session=SESSION))
    moved = session_moved()
    assert not await follow_session(f.deps, moved)
    assert not await follow_session(f.deps, session_moved(cancelled=True))
    assert f.store.processed == set()


async def test_a_calendar_away_leaves_the_session_change_for_the_redelivery() -> None:
    f = await on_two_calendars()
    rescheduled_in_the_catalog(f)
    moved = session_moved()
    calendar_of(f).failures.append(CalendarUnavailableError("503 backendError"))
    with pytest.raises(CalendarUnavailableError):
        await follow_session(f.deps, moved)
    assert moved.applied_key not in f.store.processed
    assert await follow_session(f.deps, moved)  # the redelivery
    assert event_in(f, SENDER).start == LATER and event_in(f, JORDAN).start == LATER


async def test_one_calendar_refusing_keeps_no_other_at_the_old_time() -> None:
    f = await on_two_calendars()
    rescheduled_in_the_catalog(f)
    moved = session_moved()
    # Organizers are asked in address order: Alex first.
    refused = f"Google Calendar refused to act as {SENDER}: 403 forbidden"
    calendar_of(f).failures.append(CalendarRefusedError(refused))
    with pytest.raises(CalendarRefusedError, match="403 forbidden"):
        await follow_session(f.deps, moved)
    assert event_in(f, JORDAN).start == LATER
    assert event_in(f, SENDER).start == START
    assert moved.applied_key not in f.store.processed


def training_session_changed(**fields: Any) -> bytes:
    session = catalog_pb2.TrainingSession(
        name=SESSION, time_zone="Europe/Paris", state=catalog_pb2.SESSION_STATE_SCHEDULED
    )
    session.start_time.FromDatetime(LATER)
    event = events_pb2.TrainingSessionChanged(
        event_id=str(uuid.uuid4()),
        kind=events_pb2.SESSION_CHANGE_KIND_RESCHEDULED,
        training_session=session,
        previous_time_zone="Europe/Paris",
    )
    event.previous_start_time.FromDatetime(START)
    for name, value in fields.items():
        if name == "training_session":
            event.training_session.CopyFrom(value)
        else:
            setattr(event, name, value)
    return event.SerializeToString()


def session_msg(data: bytes) -> Msg:
    return cast(Msg, type("Msg", (), {"subject": TOPOLOGY.session_changed, "data": data})())


def test_the_decoder_takes_a_reschedule() -> None:
    moved = session_moved_from(training_session_changed())
    assert moved.training_session == SESSION
    assert (moved.start, moved.previous_start) == (LATER, START)
    assert not moved.cancelled
    assert moved.change is SessionCalendarChange.MOVE


def test_the_decoder_takes_a_cancellation_by_its_kind_or_the_sessions_state() -> None:
    by_kind = training_session_changed(kind=events_pb2.SESSION_CHANGE_KIND_CANCELLED)
    assert session_moved_from(by_kind).change is SessionCalendarChange.CANCEL
    cancelled = catalog_pb2.TrainingSession(
        name=SESSION, time_zone="Europe/Paris", state=catalog_pb2.SESSION_STATE_CANCELLED
    )
    cancelled.start_time.FromDatetime(LATER)
    by_state = training_session_changed(
        kind=events_pb2.SESSION_CHANGE_KIND_UPDATED, training_session=cancelled
    )
    assert session_moved_from(by_state).change is SessionCalendarChange.CANCEL


def test_the_decoder_tells_an_update_of_logistics_from_a_new_length() -> None:
    logistics = events_pb2.TrainingSessionChanged.FromString(
        training_session_changed(kind=events_pb2.SESSION_CHANGE_KIND_UPDATED)
    )
    logistics.previous_start_time.CopyFrom(logistics.training_session.start_time)
    assert session_moved_from(logistics.SerializeToString()).change is None
    length = events_pb2.TrainingSessionChanged()
    length.CopyFrom(logistics)
    length.ClearField("previous_start_time")
    length.ClearField("previous_time_zone")
    assert session_moved_from(length.SerializeToString()).change is SessionCalendarChange.MOVE


def without_start() -> catalog_pb2.TrainingSession:
    return catalog_pb2.TrainingSession(name=SESSION, time_zone="Europe/Paris")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"kind": events_pb2.SESSION_CHANGE_KIND_UNSPECIFIED}, "kind"),
        ({"kind": 99}, "kind"),
        (
            {"training_session": catalog_pb2.TrainingSession(name="sessions/analytics-101")},
            "training_session.name",
        ),
        ({"training_session": without_start()}, "training_session.start_time"),
        ({"event_id": "not-a-uuid"}, "event_id"),
    ],
)
def test_the_session_decoder_names_what_is_wrong(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(PoisonMessage, match=f"^{reason}"):
        session_moved_from(training_session_changed(**fields))


@given(
    st.one_of(
        messages(events_pb2.TrainingSessionChanged, known_ids=[SESSION]).map(
            lambda m: m.SerializeToString()
        ),
        st.binary(max_size=256),
    )
)
def test_the_session_decoder_decodes_or_says_why_not(payload: bytes) -> None:
    try:
        moved = session_moved_from(payload)
    except PoisonMessage as exc:
        assert str(exc).strip()
        return
    assert calendar_event_id(moved.training_session)


async def test_with_calendar_sync_off_the_sessions_consumer_acknowledges_anything() -> None:
    f = fake_dispatcher()
    handle = calendar_sessions_handler(f.deps, TOPOLOGY)
    await handle(session_msg(training_session_changed()))
    await handle(session_msg(b"\xff not even a message"))
    assert f.store.processed == set()


async def test_the_sessions_consumer_moves_the_event_and_dead_letters_refusals() -> None:
    f = await on_two_calendars()
    rescheduled_in_the_catalog(f)
    handle = calendar_sessions_handler(f.deps, TOPOLOGY)
    await handle(session_msg(training_session_changed()))
    assert event_in(f, SENDER).start == LATER
    calendar_of(f).failures.append(CalendarRefusedError("401 authError"))
    with pytest.raises(PoisonMessage, match="401 authError"):
        await handle(session_msg(training_session_changed()))


def test_the_dispatcher_consumes_session_changes_for_the_calendar() -> None:
    f = fake_dispatcher(with_calendar=True)
    durables = [spec.durable for spec, _ in subscriptions(f.deps, TOPOLOGY)]
    assert TOPOLOGY.dispatcher_calendar_sessions.durable in durables
