"""Calendar sync through the real google-api-python-client to a fake Google Calendar on loopback,
with the catalog and the dispatcher serving on real PostgreSQL and NATS: registrations published
on the catalog stream put people on the session's event in the inviting CSM's calendar, and the
event moves with the session the catalog reschedules, and is cancelled with it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from nats.js import JetStreamContext
from trainvite.catalog.v1 import catalog_pb2
from trainvite.events.v1 import events_pb2

from services.catalog import bootstrap as catalog
from services.catalog.settings import CatalogSettings
from services.common.messaging.topology import Topology
from services.common.runtime import serve
from services.dispatcher import bootstrap as dispatcher
from services.dispatcher.adapters.calendar import GoogleCalendar
from services.dispatcher.domain.calendar import SessionEvent, calendar_event_id
from services.dispatcher.settings import DispatcherSettings
from tests.fakes.calendar import Behaviour, FakeCalendar
from tests.fakes.gmail import service_account_file
from tests.helpers import Clients, clients, free_port, wait_until_serving
from tests.integration.catalog_data import analytics_session, ts
from tests.integration.event_checks import DeadLetters, approval, now_ts, publish, settled
from tests.waiting import NotYet, wait_for

pytestmark = pytest.mark.integration

CSM = "alex.rivera@trainvite.dev"
SCOPE = "https://www.googleapis.com/auth/calendar.events"


@dataclass
class Stack:
    clients: Clients
    topology: Topology
    js: JetStreamContext
    database_url: str
    session: catalog_pb2.TrainingSession
    event_id: str

    async def invite(self, email: str) -> str:
        """An approved invitation from Alex to the session, stored as a delivery; its name."""
        event = approval(email)
        event.training_session = self.session.name
        await publish(self.js, self.topology.invitation_approved, event.SerializeToString())

        async def stored() -> bool:
            conn = await asyncpg.connect(self.database_url)
            try:
                found = await conn.fetchval(
                    "SELECT count(*) FROM dispatcher.deliveries WHERE invitation = $1",
                    event.invitation,
                )
            finally:
                await conn.close()
            return bool(found)

        await wait_for(stored, f"a delivery of {event.invitation}", timeout=20)
        return event.invitation

    async def registration(
        self,
        email: str,
        invitation: str,
        state: int = catalog_pb2.REGISTRATION_STATE_REGISTERED,
        previous: int = catalog_pb2.REGISTRATION_STATE_UNSPECIFIED,
    ) -> bytes:
        """A RegistrationChanged as the catalog publishes it; published, and returned."""
        payload = events_pb2.RegistrationChanged(
            event_id=str(uuid.uuid4()),
            occur_time=now_ts(),
            training_session=self.session.name,
            email=email,
            state=state,  # type: ignore[arg-type]
            previous_state=previous,  # type: ignore[arg-type]
            invitation=invitation,
        ).SerializeToString()
        await publish(self.js, self.topology.registration_changed, payload)
        return payload


@contextlib.asynccontextmanager
async def running(
    database_url: str,
    nats_url: str,
    namespace: str,
    signing_key: str,
    tmp_path: Path,
    **dispatcher_settings: Any,
) -> AsyncIterator[Stack]:
    """The catalog and a dispatcher with these settings, serving until the block ends (no
    personalizer: the approvals and registrations are published by the test)."""
    common: dict[str, Any] = {
        "database_url": database_url,
        "nats_url": nats_url,
        "event_namespace": namespace,
        "jwt_secret": signing_key,
        "shutdown_grace_seconds": 0.5,
    }
    ports = {"catalog": free_port(), "dispatcher": free_port()}
    stop = asyncio.Event()
    runs = [
        serve(
            "catalog",
            catalog.SCHEMA,
            CatalogSettings(grpc_port=ports["catalog"], **common),
            catalog.build,
            stop,
        ),
        serve(
            "dispatcher",
            dispatcher.SCHEMA,
            DispatcherSettings(
                grpc_port=ports["dispatcher"],
                catalog_address=f"127.0.0.1:{ports['catalog']}",
                outbox_dir=tmp_path / "outbox",
                send_poll_seconds=0.1,
                **dispatcher_settings,
                **common,
            ),
            dispatcher.build,
            stop,
        ),
    ]
    tasks = [asyncio.create_task(r) for r in runs]
    endpoints = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    c = clients({**endpoints, "personalizer": endpoints["catalog"]}, signing_key)
    nc = await nats.connect(nats_url)
    try:
        await wait_until_serving(c, tasks)
        session = await analytics_session(c)
        yield Stack(
            c,
            Topology(namespace),
            nc.jetstream(),
            database_url,
            session,
            calendar_event_id(session.name),
        )
    finally:
        stop.set()
        await nc.drain()
        await c.close()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert not errors, errors


@pytest.fixture
async def stack_with(
    database_url: str, nats_url: str, namespace: str, signing_key: str, tmp_path: Path
) -> AsyncIterator[Any]:
    """Start the stack with calendar sync on against a fake calendar behaving so (or off)."""
    async with contextlib.AsyncExitStack() as exits:

        async def start(
            behaviour: Behaviour | None = None, enabled: bool = True
        ) -> tuple[Stack, FakeCalendar]:
            fake = exits.enter_context(FakeCalendar(behaviour or Behaviour()))
            key = service_account_file(tmp_path / "sa.json", fake.url + "token")
            settings: dict[str, Any] = {
                "calendar_enabled": enabled,
                "calendar_service_account_file": key,
                "calendar_api_endpoint": fake.api_endpoint,
            }
            stack = await exits.enter_async_context(
                running(database_url, nats_url, namespace, signing_key, tmp_path, **settings)
            )
            return stack, fake

        yield start


async def attendees_become(
    fake: FakeCalendar, s: Stack, expected: list[str], description: str
) -> None:
    def current() -> bool | NotYet:
        now = fake.attendees(CSM, s.event_id)
        return True if now == expected else NotYet(now)

    await wait_for(current, description, timeout=20)


async def test_registrations_put_people_on_the_sessions_event_in_the_csms_calendar(
    stack_with: Any,
) -> None:
    s, fake = await stack_with()
    ada, bob = "ada@northwind.example", "bob@northwind.example"
    ada_invitation = await s.invite(ada)
    bob_invitation = await s.invite(bob)

    # The first registration creates the event, as the CSM, with the person on it.
    await s.registration(ada, ada_invitation)
    await attendees_become(fake, s, [ada], "Ada on the session's event")
    [insert] = fake.requests_of("POST")
    assert insert.user == CSM  # the token was minted for the CSM by delegation
    assert SCOPE in fake.scopes[CSM]
    assert insert.event_id == s.event_id
    assert insert.query["sendUpdates"] == ["none"]
    assert insert.body["summary"] == s.session.title
    assert insert.body["start"]["timeZone"] == s.session.time_zone
    assert insert.body["location"] == s.session.join_url
    assert insert.body["guestsCanSeeOtherGuests"] is False

    # A second person: the insert meets the event, which is read and patched with both.
    bob_registered = await s.registration(bob, bob_invitation)
    await attendees_become(fake, s, [ada, bob], "Bob beside Ada on the event")
    [patch] = fake.requests_of("PATCH")
    assert patch.if_match is not None
    assert patch.query["sendUpdates"] == ["none"]

    # The same event again (a redelivery through the stream): no call at all.
    before = len(fake.requests)
    await publish(s.js, s.topology.registration_changed, bob_registered)
    await settled(s.js, s.topology.dispatcher_calendar, published=3)
    assert len(fake.requests) == before

    # A cancellation takes the person off.
    await s.registration(
        ada,
        ada_invitation,
        state=catalog_pb2.REGISTRATION_STATE_CANCELLED,
        previous=catalog_pb2.REGISTRATION_STATE_REGISTERED,
    )
    await attendees_become(fake, s, [bob], "Ada taken off the event")
    assert all(r.user == CSM for r in fake.requests)
    letters = DeadLetters(s.js, s.topology, s.topology.dispatcher_calendar.durable)
    assert await letters.within(0.5) == []
    await letters.close()


async def test_an_edit_between_our_read_and_write_loses_nobody(stack_with: Any) -> None:
    """Another writer changes the event after we read it: the write (If-Match) is refused
    with 412, and the attendees are read and applied again."""
    s, fake = await stack_with(Behaviour(interfere_after_gets=1))
    ada, bob = "ada@northwind.example", "bob@northwind.example"
    ada_invitation = await s.invite(ada)
    bob_invitation = await s.invite(bob)
    await s.registration(ada, ada_invitation)
    await attendees_become(fake, s, [ada], "Ada on the session's event")
    await s.registration(bob, bob_invitation)
    guest = fake.behaviour.interfering_guest
    await attendees_become(fake, s, [ada, guest, bob], "Bob added, the CSM's guest kept")
    assert fake.conflicts == 1


async def test_a_calendar_refusing_the_csm_dead_letters_the_event_with_the_reason(
    stack_with: Any,
) -> None:
    s, fake = await stack_with(Behaviour(refuse_status=403, refuse_reason="forbidden"))
    ada = "ada@northwind.example"
    await s.registration(ada, await s.invite(ada))
    letters = DeadLetters(s.js, s.topology, s.topology.dispatcher_calendar.durable)
    [letter] = await letters.wait_for(1, seconds=20)
    await letters.close()
    assert "403 forbidden" in letter.reason
    assert "delegation" in letter.reason
    assert letters.on_delivery == [1]  # on its first delivery: not retried
    assert [r.method for r in fake.requests] == ["POST"]


async def test_a_busy_calendar_is_tried_again_until_the_person_is_on_the_event(
    stack_with: Any,
) -> None:
    s, fake = await stack_with(Behaviour(unavailable_first=1))
    ada = "ada@northwind.example"
    await s.registration(ada, await s.invite(ada))
    await attendees_become(fake, s, [ada], "Ada on the event after a 503")
    info = await settled(s.js, s.topology.dispatcher_calendar, published=1, seconds=20)
    assert info.delivered == 2  # the first delivery met the 503, the second went through
    letters = DeadLetters(s.js, s.topology, s.topology.dispatcher_calendar.durable)
    assert await letters.within(0.5) == []
    await letters.close()


async def test_delegation_not_granted_dead_letters_the_event_with_the_reason(
    stack_with: Any,
) -> None:
    """The token endpoint refuses to impersonate the CSM (no delegation for the scope)."""
    s, fake = await stack_with(Behaviour(refuse_tokens=True))
    ada = "ada@northwind.example"
    await s.registration(ada, await s.invite(ada))
    letters = DeadLetters(s.js, s.topology, s.topology.dispatcher_calendar.durable)
    [letter] = await letters.wait_for(1, seconds=20)
    await letters.close()
    assert "unauthorized_client" in letter.reason
    assert CSM in letter.reason
    assert letters.on_delivery == [1]
    assert fake.requests == []  # no call without a token


async def test_with_calendar_sync_off_registrations_call_nothing(stack_with: Any) -> None:
    s, fake = await stack_with(enabled=False)
    ada = "ada@northwind.example"
    await s.registration(ada, await s.invite(ada))
    info = await settled(s.js, s.topology.dispatcher_calendar, published=1)
    assert info.redelivered == 0
    assert fake.requests == []
    assert fake.scopes == {}


def event_times(fake: FakeCalendar, s: Stack) -> tuple[dt.datetime, dt.datetime] | None:
    """Where the event in Alex's calendar starts and ends; None while there is none."""
    event = fake.event(CSM, s.event_id)
    if event is None:
        return None
    return (
        dt.datetime.fromisoformat(event["start"]["dateTime"]),
        dt.datetime.fromisoformat(event["end"]["dateTime"]),
    )


async def times_become(
    fake: FakeCalendar, s: Stack, expected: tuple[dt.datetime, dt.datetime], description: str
) -> None:
    def current() -> bool | NotYet:
        times = event_times(fake, s)
        return True if times == expected else NotYet(times)

    await wait_for(current, description, timeout=20)


async def test_the_event_moves_with_its_session_and_is_cancelled_with_it(
    stack_with: Any,
) -> None:
    s, fake = await stack_with()
    ada = "ada@northwind.example"
    await s.registration(ada, await s.invite(ada))
    await attendees_become(fake, s, [ada], "Ada on the session's event")
    start = s.session.start_time.ToDatetime(tzinfo=dt.UTC)
    length = s.session.duration.ToTimedelta()
    assert event_times(fake, s) == (start, start + length)

    # The catalog moves the session two hours later and publishes TrainingSessionChanged.
    later = start + dt.timedelta(hours=2)
    await s.clients.catalog.UpdateTrainingSession(
        catalog_pb2.UpdateTrainingSessionRequest(
            training_session=catalog_pb2.TrainingSession(name=s.session.name, start_time=ts(later)),
            update_mask=FieldMask(paths=["start_time"]),
        ),
        metadata=s.clients.editor,
    )

    await times_become(fake, s, (later, later + length), "the event two hours later")
    [patch] = fake.requests_of("PATCH")
    assert patch.user == CSM
    assert patch.query["sendUpdates"] == ["none"]
    assert patch.body["start"]["timeZone"] == s.session.time_zone
    assert patch.body["summary"] == s.session.title
    assert "attendees" not in patch.body  # the people on it stay as they are
    assert fake.attendees(CSM, s.event_id) == [ada]
    await settled(s.js, s.topology.dispatcher_calendar_sessions, published=1)

    # The course gets longer: the catalog says so without the times before, and the end follows.
    course = await s.clients.catalog.GetCourse(
        catalog_pb2.GetCourseRequest(name=s.session.course), metadata=s.clients.editor
    )
    longer = dt.timedelta(minutes=90)
    await s.clients.catalog.UpdateCourse(
        catalog_pb2.UpdateCourseRequest(
            course=catalog_pb2.Course(
                name=course.name, etag=course.etag, duration=Duration(seconds=90 * 60)
            ),
            update_mask=FieldMask(paths=["duration"]),
        ),
        metadata=s.clients.editor,
    )
    await times_become(fake, s, (later, later + longer), "the event's end 90 minutes on")
    await settled(s.js, s.topology.dispatcher_calendar_sessions, published=2)

    # The catalog cancels the session: the event is cancelled (deleted, as Google keeps it).
    await s.clients.catalog.CancelTrainingSession(
        catalog_pb2.CancelTrainingSessionRequest(name=s.session.name, reason="presenter ill"),
        metadata=s.clients.editor,
    )

    def cancelled() -> bool | NotYet:
        status = (fake.event(CSM, s.event_id) or {}).get("status")
        return True if status == "cancelled" else NotYet(status)

    await wait_for(cancelled, "the event cancelled", timeout=20)
    [delete] = fake.requests_of("DELETE")
    assert delete.user == CSM and delete.event_id == s.event_id
    assert delete.query["sendUpdates"] == ["none"]
    await settled(s.js, s.topology.dispatcher_calendar_sessions, published=3)
    letters = DeadLetters(s.js, s.topology, s.topology.dispatcher_calendar_sessions.durable)
    assert await letters.within(0.5) == []
    await letters.close()


async def test_with_calendar_sync_off_session_changes_call_nothing(stack_with: Any) -> None:
    s, fake = await stack_with(enabled=False)
    await s.invite("ada@northwind.example")
    await s.clients.catalog.CancelTrainingSession(
        catalog_pb2.CancelTrainingSessionRequest(name=s.session.name, reason="presenter ill"),
        metadata=s.clients.editor,
    )
    info = await settled(s.js, s.topology.dispatcher_calendar_sessions, published=1)
    assert info.redelivered == 0
    assert fake.requests == []


def adapter_event() -> SessionEvent:
    return SessionEvent.of_session(
        f"training-sessions/{uuid.uuid4()}",
        "Advanced Analytics",
        "",
        dt.datetime(2026, 12, 15, 16, tzinfo=dt.UTC),
        dt.timedelta(hours=1),
        "Europe/Paris",
        "https://zoom.example/j/1",
        cancelled=False,
    )


async def test_an_event_the_csm_deleted_comes_back_with_the_next_registration(
    tmp_path: Path,
) -> None:
    """Google keeps a deleted event's id (an insert meets 409, a get shows it cancelled)."""
    with FakeCalendar() as fake:
        key = service_account_file(tmp_path / "sa.json", fake.url + "token")
        calendar = GoogleCalendar(service_account_file=key, api_endpoint=fake.api_endpoint)
        event = adapter_event()
        assert await calendar.add_attendee(CSM, event, "ada@northwind.example")
        fake.events[(CSM, event.event_id)]["status"] = "cancelled"  # deleted in the CSM's UI
        assert not await calendar.remove_attendee(CSM, event.event_id, "ada@northwind.example")
        assert await calendar.add_attendee(CSM, event, "ada@northwind.example")
        restored = fake.event(CSM, event.event_id)
        assert restored is not None and restored["status"] == "confirmed"
        assert fake.attendees(CSM, event.event_id) == ["ada@northwind.example"]


async def test_the_last_person_off_leaves_an_event_with_nobody_on_it(tmp_path: Path) -> None:
    """The adapter alone against the fake: removing the only attendee writes an empty list,
    and removing from an event that does not exist writes nothing."""
    with FakeCalendar() as fake:
        key = service_account_file(tmp_path / "sa.json", fake.url + "token")
        calendar = GoogleCalendar(service_account_file=key, api_endpoint=fake.api_endpoint)
        event = adapter_event()
        assert not await calendar.remove_attendee(CSM, event.event_id, "ada@northwind.example")
        assert await calendar.add_attendee(CSM, event, "ada@northwind.example")
        assert not await calendar.add_attendee(CSM, event, "ADA@northwind.example")
        assert await calendar.remove_attendee(CSM, event.event_id, "ada@northwind.example")
        assert fake.event(CSM, event.event_id) is not None
        assert fake.attendees(CSM, event.event_id) == []
        assert [r.method for r in fake.requests_of("PATCH", "POST")] == ["POST", "POST", "PATCH"]


async def test_a_calendar_without_the_event_is_neither_moved_nor_cancelled(
    tmp_path: Path,
) -> None:
    """The adapter alone: Google's 404 for an event never created there and its 410 for one
    deleted already change nothing; a move keeps the attendees."""
    with FakeCalendar() as fake:
        key = service_account_file(tmp_path / "sa.json", fake.url + "token")
        calendar = GoogleCalendar(service_account_file=key, api_endpoint=fake.api_endpoint)
        event = adapter_event()
        assert not await calendar.move_event(CSM, event)
        assert not await calendar.cancel_event(CSM, event.event_id)
        assert await calendar.add_attendee(CSM, event, "ada@northwind.example")
        later = dataclasses.replace(
            event, start=event.start + dt.timedelta(hours=2), end=event.end + dt.timedelta(hours=2)
        )
        assert await calendar.move_event(CSM, later)
        stored = fake.event(CSM, event.event_id)
        assert stored is not None
        assert dt.datetime.fromisoformat(stored["start"]["dateTime"]) == later.start
        assert fake.attendees(CSM, event.event_id) == ["ada@northwind.example"]
        assert await calendar.cancel_event(CSM, event.event_id)
        assert not await calendar.cancel_event(CSM, event.event_id)  # 410: deleted already
        assert not await calendar.move_event(CSM, later)  # deleted: nothing anyone sees
        assert fake.attendees(CSM, event.event_id) == ["ada@northwind.example"]
