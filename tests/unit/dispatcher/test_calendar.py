"""Calendar sync on the in-memory dispatcher: a registration through an invitation puts the
person on the session's event in the inviting CSM's calendar, once; a cancellation takes them
off; what the calendar refuses is dead-lettered with the reason, what may pass is retried."""

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
from services.dispatcher.api.subscriptions import calendar_handler, registration_moved
from services.dispatcher.domain.calendar import (
    RegistrationMoved,
    SessionEvent,
    calendar_event_id,
)
from services.dispatcher.service_layer.calendar import sync_registration
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
