"""An event that can never be processed is dead-lettered on its first delivery, with a reason
naming the field, and the consumer goes on with the next event.

Each class of poison is published on the attendance subject (read by the catalog and the
personalizer) and on the approved-invitation subject (read by the dispatcher), followed by a
valid event that must be processed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from asyncpg.exceptions import CharacterNotInRepertoireError
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from trainvite.catalog.v1 import catalog_pb2 as cpb
from trainvite.events.v1 import events_pb2

from services.common.messaging import consumer
from services.common.messaging.consumer import run_pull_consumer
from services.common.messaging.jetstream import declare_streams
from services.common.messaging.topology import ConsumerSpec, Topology
from tests.helpers import Clients
from tests.integration.catalog_data import in_days, new_course, new_session
from tests.integration.event_checks import (
    DeadLetters,
    approval,
    attendance,
    now_ts,
    publish,
    settled,
    wait_for_files,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(fresh_database_url: str) -> str:
    """A database per test: a delivery still pending when one test ends would land in the next
    test's outbox."""
    return fresh_database_url


# The last second protobuf's Timestamp can hold is 9999-12-31T23:59:59Z.
_AFTER_YEAR_9999 = 253_402_300_800

Attendance = events_pb2.AttendanceRecorded
Approval = events_pb2.InvitationApproved


def _nul_in_email(e: Attendance) -> None:
    e.email = "dana\x00scott@northwind.example"


def _nul_in_name(e: Approval) -> None:
    e.recipient.display_name = "Dana\x00Scott"


def _occur_after_9999(e: Attendance) -> None:
    e.occur_time.seconds = _AFTER_YEAR_9999


def _approved_after_9999(e: Approval) -> None:
    e.approve_time.seconds = _AFTER_YEAR_9999


def _occur_negative_nanos(e: Attendance) -> None:
    e.occur_time.nanos = -1


def _send_after_negative_nanos(e: Approval) -> None:
    e.send_after.seconds = e.approve_time.seconds
    e.send_after.nanos = -1


def _unknown_kind(e: Attendance) -> None:
    e.kind = 42  # type: ignore[assignment]


def _unknown_angle(e: Approval) -> None:
    e.angle = 99  # type: ignore[assignment]


def _attendance_id_not_uuid(e: Attendance) -> None:
    e.event_id = "event-17"


def _approval_id_not_uuid(e: Approval) -> None:
    e.event_id = "event-17"


def _attended_two_months_ahead(e: Attendance) -> None:
    e.kind = events_pb2.ATTENDANCE_KIND_ATTENDED


@dataclass(frozen=True)
class Poison:
    """One class of poison: how it spoils a valid event of each subject, and what the dead
    letter's reason must name."""

    spoil_attendance: Callable[[Attendance], None] | None
    spoil_approval: Callable[[Approval], None] | None
    attendance_reason: tuple[str, ...]
    approval_reason: tuple[str, ...] = ()
    garbage: bool = False


POISONS = {
    "nul-in-a-string": Poison(
        _nul_in_email, _nul_in_name, ("email", "control character"), ("recipient.display_name",)
    ),
    "timestamp-out-of-range": Poison(
        _occur_after_9999, _approved_after_9999, ("occur_time", "9999"), ("approve_time", "9999")
    ),
    "negative-nanos": Poison(
        _occur_negative_nanos,
        _send_after_negative_nanos,
        ("occur_time", "nanos"),
        ("send_after", "nanos"),
    ),
    "unknown-enum": Poison(
        _unknown_kind, _unknown_angle, ("kind", "42"), ("angle", "99", "PersonalizationAngle")
    ),
    "bad-uuid": Poison(
        _attendance_id_not_uuid,
        _approval_id_not_uuid,
        ("event_id", "not a UUID"),
        ("event_id", "not a UUID"),
    ),
    "garbage-bytes": Poison(
        None,
        None,
        ("not an AttendanceRecorded",),
        ("not an InvitationApproved",),
        garbage=True,
    ),
    "attended-a-future-session": Poison(
        _attended_two_months_ahead, None, ("kind", "attended", "has not begun")
    ),
}

_GARBAGE = b"\xff\x00 not protobuf \xde\xad\xbe\xef"


async def _session_in_60_days(c: Clients) -> cpb.TrainingSession:
    return await new_session(c, await new_course(c), in_days(60))


async def _expect_one_dead_letter(
    js: JetStreamContext,
    topology: Topology,
    spec: ConsumerSpec,
    payload: bytes,
    reason_names: tuple[str, ...],
    subject: str | None = None,
) -> None:
    assert reason_names, "name what the reason must say"
    letters = DeadLetters(js, topology, spec.durable)
    try:
        found = await letters.wait_for(1)
    finally:
        await letters.close()
    assert len(found) == 1, f"{spec.durable}: {len(found)} dead letters"
    letter = found[0]
    assert letters.on_delivery == [1], f"{spec.durable} gave up on delivery {letters.on_delivery}"
    assert letter.consumer == spec.durable
    assert letter.subject == (subject or spec.filter_subject)
    assert letter.payload == payload
    for name in reason_names:
        assert name in letter.reason, letter.reason


@pytest.mark.parametrize("poison", POISONS.values(), ids=POISONS.keys())
async def test_poison_is_dead_lettered_on_its_first_delivery_and_the_consumer_goes_on(
    services: Clients,
    js: JetStreamContext,
    namespace: str,
    outbox_dir: Path,
    poison: Poison,
) -> None:
    topology = Topology(namespace)
    session = await _session_in_60_days(services)

    # Attendance: the catalog counts seats, the personalizer keeps training history.
    spoiled_attendance = attendance(session.name, "poison@northwind.example")
    if poison.spoil_attendance is not None:
        poison.spoil_attendance(spoiled_attendance)
    bad = _GARBAGE if poison.garbage else spoiled_attendance.SerializeToString()
    await publish(js, topology.attendance_recorded, bad)
    canary = attendance(session.name, f"canary-{uuid.uuid4().hex[:8]}@northwind.example")
    await publish(js, topology.attendance_recorded, canary.SerializeToString())
    for spec in (topology.catalog_registrations, topology.personalizer_attendance):
        await _expect_one_dead_letter(js, topology, spec, bad, poison.attendance_reason)
        done = await settled(js, spec, published=2)
        assert (done.delivered, done.redelivered) == (2, 0), done.info
    seats = await services.catalog.GetTrainingSession(
        cpb.GetTrainingSessionRequest(name=session.name), metadata=services.csm
    )
    assert seats.seats_taken == 1  # the canary's registration, not the poison's

    # Approved invitations: the dispatcher stores a delivery and sends it.
    if poison.spoil_approval is None and not poison.garbage:
        return
    spoiled_approval = approval("poison@cloudtech.example")
    if poison.spoil_approval is not None:
        poison.spoil_approval(spoiled_approval)
    bad = _GARBAGE if poison.garbage else spoiled_approval.SerializeToString()
    await publish(js, topology.invitation_approved, bad)
    await publish(
        js, topology.invitation_approved, approval("canary@cloudtech.example").SerializeToString()
    )
    spec = topology.dispatcher_invitations
    await _expect_one_dead_letter(js, topology, spec, bad, poison.approval_reason)
    done = await settled(js, spec, published=2)
    assert (done.delivered, done.redelivered) == (2, 0), done.info
    sent = await wait_for_files(outbox_dir, 1)
    assert [b"canary@cloudtech.example" in p.read_bytes() for p in sent] == [True]


async def test_an_event_naming_what_the_catalog_does_not_know_is_poison(
    services: Clients, js: JetStreamContext, namespace: str
) -> None:
    """Well formed, but the catalog knows no such session, or refuses the feature a trigger
    names: asking again will not change the answer, so the event is dead-lettered at once."""
    topology = Topology(namespace)
    session = await _session_in_60_days(services)
    unknown = events_pb2.TrainingSessionChanged(
        event_id=str(uuid.uuid4()),
        occur_time=now_ts(),
        kind=events_pb2.SESSION_CHANGE_KIND_CANCELLED,
        training_session=session,
        changed_by="editor@trainvite.dev",
    )
    unknown.training_session.name = f"training-sessions/{uuid.uuid4()}"
    await publish(js, topology.session_changed, unknown.SerializeToString())
    await _expect_one_dead_letter(
        js,
        topology,
        topology.personalizer_session_changes,
        unknown.SerializeToString(),
        ("does not exist",),
    )
    refused = events_pb2.FeatureReleased(
        event_id=str(uuid.uuid4()),
        occur_time=now_ts(),
        feature="x" * 70_000,
        customer_ids=["northwind"],
    )
    subject = topology.platform_trigger("feature_released")
    await publish(js, subject, refused.SerializeToString())
    await _expect_one_dead_letter(
        js,
        topology,
        topology.personalizer_triggers,
        refused.SerializeToString(),
        ("feature",),
        subject,
    )


async def test_registering_for_a_future_session_is_no_poison(
    services: Clients, js: JetStreamContext, namespace: str
) -> None:
    """Registering and cancelling are what people do before a session; only attendance waits."""
    topology = Topology(namespace)
    session = await _session_in_60_days(services)
    for kind in (events_pb2.ATTENDANCE_KIND_REGISTERED, events_pb2.ATTENDANCE_KIND_CANCELLED):
        event = attendance(session.name, "ahead@northwind.example", kind)
        await publish(js, topology.attendance_recorded, event.SerializeToString())
    for spec in (topology.catalog_registrations, topology.personalizer_attendance):
        done = await settled(js, spec, published=2)
        assert (done.delivered, done.redelivered) == (2, 0), done.info
        letters = DeadLetters(js, topology, spec.durable)
        try:
            assert await letters.within(0.5) == []
        finally:
            await letters.close()


async def test_a_value_the_database_refuses_is_poison_and_a_lost_connection_is_waited_out(
    js: JetStreamContext, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a decoder did not foresee, PostgreSQL still refuses the same way every time: a data
    exception is dead-lettered at once. A lost connection is waited out with the message in
    hand, for longer than the consumer's redeliveries would last: nothing reaches the dead
    letters and nothing is redelivered."""
    monkeypatch.setattr(consumer, "OUTAGE_RETRY_SECONDS", 0.01)
    monkeypatch.setattr(consumer, "OUTAGE_RETRY_CAP_SECONDS", 0.05)
    topology = Topology(namespace)
    await declare_streams(js, topology)
    spec = topology.personalizer_suppressions
    outage_attempts = spec.max_deliver + 5
    calls: Counter[bytes] = Counter()

    async def handler(msg: Msg) -> None:
        calls[msg.data] += 1
        if msg.data == b"refused":
            raise CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00')
        if msg.data == b"offline" and calls[msg.data] <= outage_attempts:
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")

    stop = asyncio.Event()
    consuming = asyncio.create_task(
        run_pull_consumer(js, topology, spec, handler, stop, fetch_timeout=0.2)
    )
    try:
        for payload in (b"refused", b"offline", b"fine"):
            await publish(js, spec.filter_subject, payload)
        letters = DeadLetters(js, topology, spec.durable)
        try:
            found = await letters.wait_for(1)
            done = await settled(js, spec, published=3)
            assert await letters.within(0.5) == found  # no second letter
        finally:
            await letters.close()
        assert [letter.payload for letter in found] == [b"refused"]
        assert "CharacterNotInRepertoireError" in found[0].reason
        assert letters.on_delivery == [1]
    finally:
        stop.set()
        await consuming
    assert calls == {b"refused": 1, b"offline": outage_attempts + 1, b"fine": 1}
    assert (done.delivered, done.redelivered) == (3, 0), done.info


async def test_a_durable_made_with_older_settings_takes_the_current_ones(
    js: JetStreamContext, namespace: str
) -> None:
    """A durable made by an earlier release (a one-second first backoff, which JetStream takes
    as the ack wait) is brought up to the topology's settings when its consumer starts."""
    topology = Topology(namespace)
    await declare_streams(js, topology)
    spec = topology.personalizer_suppressions
    await js.add_consumer(
        spec.stream,
        ConsumerConfig(
            durable_name=spec.durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=1.0,
            max_deliver=spec.max_deliver,
            backoff=[1.0, 5.0, 30.0, 120.0],
            filter_subject=spec.filter_subject,
        ),
    )
    stop = asyncio.Event()
    handled: list[bytes] = []

    async def handler(msg: Msg) -> None:
        handled.append(msg.data)

    consuming = asyncio.create_task(
        run_pull_consumer(js, topology, spec, handler, stop, fetch_timeout=0.2)
    )
    try:
        await publish(js, spec.filter_subject, b"after the upgrade")
        await settled(js, spec, published=1)
        info = await js.consumer_info(spec.stream, spec.durable)
    finally:
        stop.set()
        await consuming
    assert handled == [b"after the upgrade"]
    assert info.config.backoff == spec.backoff and info.config.ack_wait == spec.ack_wait
