"""Tracking after the send, on real PostgreSQL and NATS: registration and attendance events for
sent invitations, applied a batch at a time, read back by the CSM.

Deliveries are made the way the personalizer makes them (InvitationApproved on the stream) and
sent by the local sender; facts are published as the catalog (RegistrationChanged) and the
webinar tools (AttendanceRecorded) publish them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import asyncpg
import grpc
import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext
from trainvite.catalog.v1 import catalog_pb2 as cpb
from trainvite.dispatcher.v1 import dispatcher_pb2 as dpb
from trainvite.events.v1 import events_pb2

from services.common.auth import CallerKind, Principal
from services.common.clock import utc_now
from services.common.db import create_pool
from services.common.messaging.batch_consumer import BatchHandler, by_subject, run_batch_consumer
from services.common.messaging.jetstream import declare_streams
from services.common.messaging.topology import ConsumerSpec, Topology
from services.dispatcher.adapters.events import event_registry
from services.dispatcher.adapters.unit_of_work import PostgresDispatcherUnitOfWork
from services.dispatcher.api.subscriptions import invitation_approved
from services.dispatcher.api.tracking_subscriptions import attendance_fact
from services.dispatcher.bootstrap import bootstrap
from services.dispatcher.domain.tracking import TrackingFact
from services.dispatcher.service_layer import invitations, tracking
from services.dispatcher.service_layer.dependencies import Dependencies
from services.platform.seed import CSM_EMAIL
from tests.fakes.dispatcher import FakeMailSender, FakeProvider, FakeQuota, build_message
from tests.helpers import Clients
from tests.integration.event_checks import DeadLetters, approval, publish
from tests.waiting import NotYet, wait_for

pytestmark = pytest.mark.integration

T0 = dt.datetime(2026, 11, 30, 15, 0, tzinfo=dt.UTC)


def _ts(minutes: int) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(T0 + dt.timedelta(minutes=minutes))
    return t


@dataclass(frozen=True)
class Batch:
    name: str
    session: str
    approvals: list[events_pb2.InvitationApproved]

    @property
    def emails(self) -> list[str]:
        return [a.recipient.email for a in self.approvals]

    @property
    def invitations(self) -> list[str]:
        return [a.invitation for a in self.approvals]


def new_batch(people: int, customer: str = "cloudtech") -> Batch:
    """Approved invitations of one new batch to one new session, from CSM_EMAIL's mailbox."""
    batch = f"customers/{customer}/invitation-batches/{uuid.uuid4()}"
    session = f"training-sessions/{uuid.uuid4()}"
    approvals = []
    for n in range(people):
        a = approval(f"person{n}-{uuid.uuid4().hex[:6]}@{customer}.example", customer)
        a.batch, a.invitation, a.training_session = batch, f"{batch}/drafts/{uuid.uuid4()}", session
        approvals.append(a)
    return Batch(batch, session, approvals)


def registration(
    b: Batch, n: int, state: int, at: int, position: int = 0, named: bool = True
) -> events_pb2.RegistrationChanged:
    """The catalog's word on person n of the batch, `at` minutes after T0."""
    return events_pb2.RegistrationChanged(
        event_id=str(uuid.uuid4()),
        occur_time=_ts(at),
        training_session=b.session,
        email=b.emails[n] if named else b.emails[n].upper(),
        state=state,  # type: ignore[arg-type]
        waitlist_position=position,
        invitation=b.invitations[n] if named else "",
    )


def attended(
    b: Batch, n: int, kind: int, at: int, minutes: int = 0, named: bool = False
) -> events_pb2.AttendanceRecorded:
    """A webinar tool's word on person n of the batch (matched by address unless named)."""
    return events_pb2.AttendanceRecorded(
        event_id=str(uuid.uuid4()),
        occur_time=_ts(at),
        training_session=b.session,
        email=b.emails[n],
        invitation=b.invitations[n] if named else "",
        kind=kind,  # type: ignore[arg-type]
        source="zoom",
        minutes_attended=minutes,
    )


def story(b: Batch) -> list[Message]:
    """What happened after the send, in the order it happened."""
    return [
        registration(b, 0, cpb.REGISTRATION_STATE_WAITLISTED, at=1, position=3),
        registration(b, 0, cpb.REGISTRATION_STATE_WAITLISTED, at=2, position=1),
        registration(b, 1, cpb.REGISTRATION_STATE_REGISTERED, at=3, named=False),
        registration(b, 2, cpb.REGISTRATION_STATE_REGISTERED, at=4),
        registration(b, 3, cpb.REGISTRATION_STATE_REGISTERED, at=5),
        registration(b, 3, cpb.REGISTRATION_STATE_CANCELLED, at=6),
        attended(b, 2, events_pb2.ATTENDANCE_KIND_ATTENDED, at=70, minutes=25),
        attended(b, 2, events_pb2.ATTENDANCE_KIND_ATTENDED, at=75, minutes=48, named=True),
        # Worked out again once a leave was heard after the end: fewer minutes, a newer result.
        attended(b, 2, events_pb2.ATTENDANCE_KIND_ATTENDED, at=80, minutes=41),
        attended(b, 1, events_pb2.ATTENDANCE_KIND_NO_SHOW, at=90),
        # A late "registered" does not undo "attended".
        registration(b, 2, cpb.REGISTRATION_STATE_REGISTERED, at=95),
    ]


def subject_of(topology: Topology, event: Message) -> str:
    if isinstance(event, events_pb2.AttendanceRecorded):
        return topology.attendance_recorded
    return topology.registration_changed


async def publish_all(js: JetStreamContext, topology: Topology, events: Sequence[Message]) -> None:
    for event in events:
        await publish(js, subject_of(topology, event), event.SerializeToString())


async def caught_up(js: JetStreamContext, spec: ConsumerSpec) -> None:
    """Until the consumer has been handed everything on its subject and acknowledged it."""

    async def state() -> bool | NotYet:
        stream = await js.stream_info(spec.stream, subjects_filter=spec.filter_subject)
        on_subject = sum((stream.state.subjects or {}).values())
        info = await js.consumer_info(spec.stream, spec.durable)
        delivered = info.delivered.stream_seq if info.delivered else 0
        done = not info.num_pending and not info.num_ack_pending and delivered >= on_subject > 0
        return True if done else NotYet(info)

    await wait_for(state, f"{spec.durable} caught up", timeout=30)


async def sent(c: Clients, js: JetStreamContext, topology: Topology, b: Batch) -> None:
    """Approve the batch's invitations and wait until the dispatcher sent them all."""
    for a in b.approvals:
        await publish(js, topology.invitation_approved, a.SerializeToString())

    async def all_sent() -> bool | NotYet:
        status = await c.dispatcher.GetBatchDeliveryStatus(
            dpb.GetBatchDeliveryStatusRequest(name=f"{b.name}/delivery-status"), metadata=c.csm
        )
        return True if status.sent_count == len(b.approvals) else NotYet(status)

    await wait_for(all_sent, f"{b.name} sent", timeout=20)


async def batch_view(c: Clients, b: Batch) -> dpb.BatchTracking:
    return await c.dispatcher.GetBatchTracking(
        dpb.GetBatchTrackingRequest(name=f"{b.name}/tracking"), metadata=c.csm
    )


def by_person(b: Batch, view: dpb.BatchTracking) -> list[tuple[int, int, int, bool, int]]:
    """(stage, waitlist position, minutes, unsubscribed, update time) in the batch's order; the
    update time of an invitation nothing was heard of is its send time, left out."""
    found = {i.recipient_email: i for i in view.invitations}
    return [
        (
            found[e].stage,
            found[e].waitlist_position,
            found[e].minutes_attended,
            found[e].unsubscribed,
            0 if found[e].stage == dpb.TRACKING_STAGE_SENT else found[e].update_time.seconds,
        )
        for e in b.emails
    ]


EXPECTED = [
    (dpb.TRACKING_STAGE_WAITLISTED, 1, 0),
    (dpb.TRACKING_STAGE_NO_SHOW, 0, 0),
    (dpb.TRACKING_STAGE_ATTENDED, 0, 41),
    (dpb.TRACKING_STAGE_CANCELLED, 0, 0),
    (dpb.TRACKING_STAGE_SENT, 0, 0),
]


async def test_the_csm_reads_how_far_each_invitation_went(
    services: Clients, js: JetStreamContext, namespace: str
) -> None:
    c, topology = services, Topology(namespace)
    b = new_batch(5)
    await sent(c, js, topology, b)
    await publish_all(js, topology, story(b))
    await c.dispatcher.Unsubscribe(
        dpb.UnsubscribeRequest(email=b.emails[4], reason="asked the CSM"), metadata=c.csm
    )

    async def tracked() -> dpb.BatchTracking | NotYet:
        view = await batch_view(c, b)
        return view if [p[:3] for p in by_person(b, view)] == EXPECTED else NotYet(view)

    view = await wait_for(tracked, "the batch's tracking", timeout=20)
    assert [p[3] for p in by_person(b, view)] == [False, False, False, False, True]
    assert view.counts.invited == 5 and view.counts.attended == 1 and view.counts.sent == 1
    assert view.summary == (
        "5 invited · 1 waitlisted · 2 registered · 1 attended · 1 no-show · 1 cancelled"
        " · 1 unsubscribed"
    )
    assert all(i.delivery_state for i in view.invitations)

    session = await c.dispatcher.GetSessionTracking(
        dpb.GetSessionTrackingRequest(name=f"{b.session}/tracking"), metadata=c.csm
    )
    assert [(x.customer_id, x.counts.invited) for x in session.customers] == [("cloudtech", 5)]
    assert session.summary == view.summary

    # Another CSM sees neither the batch nor the session's invitations; bad names are named.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await c.dispatcher.GetBatchTracking(
            dpb.GetBatchTrackingRequest(name=f"{b.name}/tracking"), metadata=c.other_csm
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    theirs = await c.dispatcher.GetSessionTracking(
        dpb.GetSessionTrackingRequest(name=f"{b.session}/tracking"), metadata=c.other_csm
    )
    assert theirs.counts.invited == 0 and not theirs.customers
    for bad in (f"{b.name}/delivery-status", "training-sessions/x y/tracking"):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.dispatcher.GetBatchTracking(
                dpb.GetBatchTrackingRequest(name=bad), metadata=c.csm
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "name" in (err.value.details() or "")


async def test_duplicated_reordered_and_replayed_events_end_as_a_clean_run(
    services: Clients, js: JetStreamContext, namespace: str
) -> None:
    c, topology = services, Topology(namespace)
    clean, messy = new_batch(5), new_batch(5)
    await sent(c, js, topology, clean)
    await sent(c, js, topology, messy)
    await publish_all(js, topology, story(clean))
    events = story(messy)
    shuffled = [*events, *random.Random(7).sample(events, k=4)]  # some twice
    random.Random(11).shuffle(shuffled)
    await publish_all(js, topology, shuffled)
    await publish_all(js, topology, events)  # replayed from the start
    for spec in (topology.dispatcher_attendance, topology.dispatcher_registrations):
        await caught_up(js, spec)
    clean_view, messy_view = await batch_view(c, clean), await batch_view(c, messy)
    assert [p[:3] for p in by_person(clean, clean_view)] == EXPECTED
    assert by_person(messy, messy_view) == by_person(clean, clean_view)
    assert messy_view.summary == clean_view.summary


async def test_an_unknown_invitation_is_dead_lettered_and_the_rest_of_the_batch_applied(
    services: Clients, js: JetStreamContext, namespace: str
) -> None:
    c, topology = services, Topology(namespace)
    b = new_batch(3)
    await sent(c, js, topology, b)
    letters = DeadLetters(js, topology, topology.dispatcher_attendance.durable)
    unknown = attended(b, 1, events_pb2.ATTENDANCE_KIND_ATTENDED, at=60, minutes=30, named=True)
    unknown.invitation = f"{b.name}/drafts/{uuid.uuid4()}"
    walk_in = attended(b, 0, events_pb2.ATTENDANCE_KIND_ATTENDED, at=60, minutes=5)
    walk_in.email = "walk.in@cloudtech.example"
    try:
        await publish_all(
            js,
            topology,
            [
                attended(b, 0, events_pb2.ATTENDANCE_KIND_ATTENDED, at=60, minutes=40),
                unknown,
                walk_in,  # never invited: acknowledged, not a dead letter
                attended(b, 2, events_pb2.ATTENDANCE_KIND_NO_SHOW, at=61, named=True),
            ],
        )
        [letter] = await letters.wait_for(1)
        assert "no invitation" in letter.reason and unknown.invitation in letter.reason
        assert letter.payload == unknown.SerializeToString()
        await caught_up(js, topology.dispatcher_attendance)
        assert await letters.within(0.5) == [letter]
    finally:
        await letters.close()
    view = await batch_view(c, b)
    assert [p[:3] for p in by_person(b, view)] == [
        (dpb.TRACKING_STAGE_ATTENDED, 0, 40),
        (dpb.TRACKING_STAGE_SENT, 0, 0),
        (dpb.TRACKING_STAGE_NO_SHOW, 0, 0),
    ]


# ---------------------------------------------------------------------------------------------
# A consumer killed in the middle of a batch, on the dispatcher's tables without its service


class Killed(BaseException):
    """The process dies: nothing after this point runs (not an Exception the consumer sees)."""


@dataclass
class Harness:
    deps: Dependencies
    pool: asyncpg.Pool[asyncpg.Record]
    js: JetStreamContext
    topology: Topology
    spec: ConsumerSpec


@pytest.fixture
async def harness(
    fresh_database_url: str, js: JetStreamContext, namespace: str
) -> AsyncIterator[Harness]:
    topology = Topology(namespace)
    await declare_streams(js, topology)
    pool = await create_pool(fresh_database_url, "dispatcher")
    registry = event_registry(topology, utc_now)
    provider = FakeProvider()
    deps = bootstrap(
        uow=lambda: PostgresDispatcherUnitOfWork(pool, registry),
        sender=FakeMailSender(provider),
        build_message=build_message,
        quota=FakeQuota(utc_now),  # type: ignore[arg-type]
        unsubscribe_key="test-key",
    )
    # Redelivered a second after a consumer that died without acknowledging.
    spec = dataclasses.replace(topology.dispatcher_attendance, ack_wait=1.0, backoff=[1.0, 1.0])
    try:
        yield Harness(deps, pool, js, topology, spec)
    finally:
        await pool.close()


async def stored(h: Harness, b: Batch) -> None:
    """The batch's deliveries, as accepted from the approvals and then sent."""
    for a in b.approvals:
        await invitations.accept_invitation(h.deps, invitation_approved(a.SerializeToString()))
    await h.pool.execute(
        "UPDATE deliveries SET state = 'sent', sent_at = now() WHERE batch = $1", b.name
    )


def attendance_story(b: Batch) -> list[events_pb2.AttendanceRecorded]:
    return [
        attended(b, 0, events_pb2.ATTENDANCE_KIND_REGISTERED, at=1),
        attended(b, 0, events_pb2.ATTENDANCE_KIND_ATTENDED, at=60, minutes=33),
        attended(b, 1, events_pb2.ATTENDANCE_KIND_REGISTERED, at=2, named=True),
        attended(b, 1, events_pb2.ATTENDANCE_KIND_NO_SHOW, at=90),
        attended(b, 2, events_pb2.ATTENDANCE_KIND_CANCELLED, at=3),
    ]


async def test_a_consumer_killed_before_its_commit_leaves_nothing_and_its_successor_applies_all(
    harness: Harness,
) -> None:
    h = harness
    clean, killed = new_batch(3), new_batch(3)
    await stored(h, clean)
    await stored(h, killed)
    decode = by_subject(h.topology.attendance_recorded, attendance_fact)

    class DiesBeforeCommit(PostgresDispatcherUnitOfWork):
        async def commit(self) -> None:
            raise Killed

    dying = dataclasses.replace(
        h.deps, uow=lambda: DiesBeforeCommit(h.pool, event_registry(h.topology, utc_now))
    )
    applied_by_dying: list[int] = []

    async def apply_then_die(facts: Sequence[TrackingFact]) -> None:
        applied_by_dying.append(len(facts))
        await tracking.apply_facts(dying, facts)

    for event in attendance_story(killed):
        await publish(h.js, h.topology.attendance_recorded, event.SerializeToString())
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_batch_consumer(h.js, h.topology, h.spec, BatchHandler(decode, apply_then_die), stop)
    )
    with pytest.raises(Killed):
        await asyncio.wait_for(task, 30)
    assert applied_by_dying  # it did get as far as writing
    written = await h.pool.fetchval(
        "SELECT count(*) FROM tracking WHERE invitation = ANY($1::text[])", killed.invitations
    )
    assert written == 0

    # Its successor takes the unacknowledged batch over; the clean batch goes through it too.
    for event in attendance_story(clean):
        await publish(h.js, h.topology.attendance_recorded, event.SerializeToString())
    alex = Principal(CSM_EMAIL, CallerKind.CSM)

    async def both_tracked() -> bool | NotYet:
        views = [
            await tracking.batch_tracking(h.deps, f"{b.name}/tracking", alex)
            for b in (clean, killed)
        ]
        seen = [[(i.stage, i.minutes_attended, i.updated_at) for i in v.invitations] for v in views]
        return True if seen[0] == seen[1] and seen[0][0][1] == 33 else NotYet(seen)

    stop = asyncio.Event()

    async def apply(facts: Sequence[TrackingFact]) -> None:
        await tracking.apply_facts(h.deps, facts)

    task = asyncio.create_task(
        run_batch_consumer(h.js, h.topology, h.spec, BatchHandler(decode, apply), stop)
    )
    try:
        await wait_for(both_tracked, "the killed batch applied by the next consumer", timeout=30)
    finally:
        stop.set()
        await task
    view = await tracking.batch_tracking(h.deps, f"{killed.name}/tracking", alex)
    assert [str(i.stage) for i in view.invitations] == ["attended", "no_show", "cancelled"]
