"""Every event type every service consumes, fed payloads generated from its descriptor.

Whatever is published, each message is handled on its first delivery: processed, or
dead-lettered with a reason; nothing is retried as if the failure might pass, nothing is logged
as an error, and a valid event published after the batch is processed (the consumer goes on).

The subjects and their message types are read from the topology's consumers, so a new event
type is fuzzed without a change here (it needs a valid example in `CANARIES`). Examples per
subject come from the hypothesis profile: "short" in `make test`, "long" in `make fuzz`.
Hypothesis draws the payloads in a worker thread; they are then published as one batch and the
consumers' state checked once the batch is through, so a failure names the payloads involved
(not shrunk: the dead letters and the error records say which and why).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import nats
import pytest
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from trainvite.catalog.v1 import catalog_pb2
from trainvite.common.v1 import common_pb2
from trainvite.events.v1 import events_pb2

from services.common.messaging.consumer import MAX_KEPT_PAYLOAD_BYTES
from services.common.messaging.topology import ConsumerSpec, Topology
from services.platform.seed import CUSTOMERS, PEOPLE
from tests.fuzz.conftest import ErrorRecords
from tests.fuzz.strategies import MessageStrategies, messages, strings
from tests.helpers import Clients
from tests.in_process import running_services
from tests.integration.event_checks import approval, attendance, now_ts
from tests.waiting import NotYet, wait_for

pytestmark = [pytest.mark.fuzz, pytest.mark.integration]

# The subjects every consumer reads, named without the namespace, with their message types.
_SAMPLE = Topology("sample")
SUBJECTS: dict[str, str] = {
    event.subject.removeprefix("sample."): event.message
    for spec in _SAMPLE.consumers()
    for event in spec.events
}


def _consumers_of(topology: Topology, subject: str) -> list[ConsumerSpec]:
    return [s for s in topology.consumers() if any(e.subject == subject for e in s.events)]


# ---------------------------------------------------------------------------------------------
# The services, on a database of this module's own (generated events change what they store)


@dataclass
class Stack:
    clients: Clients
    topology: Topology
    outbox: Path
    nc: NATS
    js: JetStreamContext
    sessions: list[catalog_pb2.TrainingSession] = field(default_factory=list)


@pytest.fixture(scope="module")
async def event_stack(
    database_url: str,
    nats_url: str,
    signing_key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    namespace = f"ef{uuid.uuid4().hex[:10]}"
    outbox: Path = tmp_path_factory.mktemp("event-fuzz-outbox")
    async with running_services(database_url, nats_url, namespace, signing_key, outbox) as c:
        nc = await nats.connect(nats_url)
        try:
            listed = await c.catalog.ListTrainingSessions(
                catalog_pb2.ListTrainingSessionsRequest(page_size=100, include_past=True),
                metadata=c.service,
            )
            yield Stack(
                c, Topology(namespace), outbox, nc, nc.jetstream(), list(listed.training_sessions)
            )
        finally:
            await nc.drain()


# ---------------------------------------------------------------------------------------------
# Valid events, one per type: each must be processed after a batch of generated ones


def _upcoming(s: Stack) -> catalog_pb2.TrainingSession:
    now = now_ts().seconds
    return next(x for x in s.sessions if x.start_time.seconds > now + 86_400)


def _attendance_canary(s: Stack) -> Message:
    return attendance(_upcoming(s).name, f"canary-{uuid.uuid4().hex[:8]}@northwind.example")


def _approval_canary(s: Stack) -> Message:
    return approval(f"canary-{uuid.uuid4().hex[:8]}@cloudtech.example")


def _session_change_canary(s: Stack) -> Message:
    return events_pb2.TrainingSessionChanged(
        event_id=str(uuid.uuid4()),
        occur_time=now_ts(),
        kind=events_pb2.SESSION_CHANGE_KIND_UPDATED,
        training_session=_upcoming(s),
        changed_by="editor@trainvite.dev",
    )


def _feature_released_canary(_: Stack) -> Message:
    return events_pb2.FeatureReleased(
        event_id=str(uuid.uuid4()),
        occur_time=now_ts(),
        feature="dashboards",
        customer_ids=["northwind"],
    )


def _low_adoption_canary(_: Stack) -> Message:
    return events_pb2.LowAdoptionDetected(
        event_id=str(uuid.uuid4()), occur_time=now_ts(), customer_id="acme", feature="dashboards"
    )


def _onboarding_canary(_: Stack) -> Message:
    person = next(p for p in PEOPLE if p.customer_id == "helios")
    return events_pb2.OnboardingScheduled(
        event_id=str(uuid.uuid4()),
        occur_time=now_ts(),
        customer_id="helios",
        stakeholder_ids=[person.id],
    )


def _suppressed_canary(_: Stack) -> Message:
    return events_pb2.AddressSuppressed(
        event_id=str(uuid.uuid4()),
        occur_time=now_ts(),
        email=f"canary-{uuid.uuid4().hex[:8]}@example.com",
        reason="unsubscribed",
    )


def _outcome_canary(_: Stack) -> Message:
    batch = f"customers/cloudtech/invitation-batches/{uuid.uuid4()}"
    return events_pb2.DeliveryOutcome(
        event_id=str(uuid.uuid4()),
        occur_time=now_ts(),
        invitation=f"{batch}/drafts/{uuid.uuid4()}",
        batch=batch,
        state=common_pb2.DELIVERY_STATE_SENT,
        message_id=f"<{uuid.uuid4()}@trainvite.dev>",
    )


def _registration_canary(s: Stack) -> Message:
    # Registered by other means (no invitation): processed, and nobody is written to.
    return events_pb2.RegistrationChanged(
        event_id=str(uuid.uuid4()),
        occur_time=now_ts(),
        training_session=_upcoming(s).name,
        email=f"canary-{uuid.uuid4().hex[:8]}@northwind.example",
        state=catalog_pb2.REGISTRATION_STATE_REGISTERED,
        seats_left=5,
    )


def _webinar_activity_canary(s: Stack) -> Message:
    # A registration in Zoom for an upcoming session that names its webinar: published at once.
    session = next(
        x for x in s.sessions if x.webinar_id and x.start_time.seconds > now_ts().seconds
    )
    return events_pb2.WebinarActivity(
        event_id=str(uuid.uuid4()),
        occur_time=now_ts(),
        source="zoom",
        webinar_id=session.webinar_id,
        kind=events_pb2.WEBINAR_ACTIVITY_KIND_REGISTERED,
        email=f"canary-{uuid.uuid4().hex[:8]}@northwind.example",
    )


CANARIES: dict[str, Callable[[Stack], Message]] = {
    "trainvite.events.v1.AttendanceRecorded": _attendance_canary,
    "trainvite.events.v1.InvitationApproved": _approval_canary,
    "trainvite.events.v1.TrainingSessionChanged": _session_change_canary,
    "trainvite.events.v1.FeatureReleased": _feature_released_canary,
    "trainvite.events.v1.LowAdoptionDetected": _low_adoption_canary,
    "trainvite.events.v1.OnboardingScheduled": _onboarding_canary,
    "trainvite.events.v1.AddressSuppressed": _suppressed_canary,
    "trainvite.events.v1.DeliveryOutcome": _outcome_canary,
    "trainvite.events.v1.RegistrationChanged": _registration_canary,
    "trainvite.events.v1.WebinarActivity": _webinar_activity_canary,
}


# ---------------------------------------------------------------------------------------------
# Generated payloads


def _message_class(full_name: str) -> type[Message]:
    return GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(full_name))


def payloads(full_name: str, s: Stack) -> st.SearchStrategy[bytes]:
    """Generated messages of the type, the same merged into a valid event (so that many get
    past the first checks and reach the handlers), truncations of them, and random bytes."""
    emails = [p.email for p in PEOPLE if p.email]
    sessions = [x.name for x in s.sessions]
    known = [c.id for c in CUSTOMERS] + [p.id for p in PEOPLE] + emails + sessions
    known += ["dashboards", "sharing", "alerts"]
    overrides: dict[str, st.SearchStrategy[Any]] = {
        "event_id": st.one_of(st.uuids().map(str), strings()),
        "email": st.one_of(st.sampled_from(emails), strings()),
        "trainvite.events.v1.AttendanceRecorded.training_session": st.one_of(
            st.sampled_from(sessions), strings()
        ),
        "trainvite.events.v1.RegistrationChanged.training_session": st.one_of(
            st.sampled_from(sessions), strings()
        ),
    }
    message_class = _message_class(full_name)
    generated = messages(message_class, known_ids=known, overrides=overrides)
    # Merged into a valid event, a few spoiled fields at a time: each reaches its own check.
    few = MessageStrategies(known_ids=known, overrides=overrides, presence=0.15)
    descriptor = cast(Descriptor, message_class.DESCRIPTOR)
    few.learn_files([descriptor.file, *descriptor.file.dependencies])
    spoilers = few.message(descriptor)
    valid = CANARIES[full_name]

    def merged(partial: Message) -> Message:
        event = valid(s)
        event.MergeFrom(partial)
        return event

    serialized = st.one_of(generated, spoilers.map(merged), spoilers.map(merged)).map(
        lambda m: m.SerializeToString()
    )
    truncated = st.tuples(serialized, st.integers(min_value=1, max_value=64)).map(
        lambda pair: pair[0][: max(0, len(pair[0]) - pair[1])]
    )
    return st.one_of(serialized, serialized, serialized, truncated, st.binary(max_size=512))


def draw(strategy: st.SearchStrategy[bytes]) -> list[bytes]:
    """As many payloads as the hypothesis profile asks for (no shrinking: nothing fails here)."""
    drawn: list[bytes] = []

    @settings(
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(payload: bytes) -> None:
        drawn.append(payload)

    collect()
    return drawn


# ---------------------------------------------------------------------------------------------
# What the consumers did


async def _published_on(js: JetStreamContext, spec: ConsumerSpec) -> int:
    """How many messages the consumer's stream holds on its filter subject."""
    info = await js.stream_info(spec.stream, subjects_filter=spec.filter_subject)
    return sum((info.state.subjects or {}).values())


async def _settle(js: JetStreamContext, spec: ConsumerSpec, seconds: float) -> tuple[int, int]:
    """(messages on the subject, deliveries) once the consumer has caught up with its stream."""

    async def caught_up() -> tuple[int, int] | NotYet:
        on_subject = await _published_on(js, spec)
        info = await js.consumer_info(spec.stream, spec.durable)
        delivered = info.delivered.consumer_seq if info.delivered else 0
        done = not info.num_pending and not info.num_ack_pending and delivered >= on_subject
        return (on_subject, delivered) if done else NotYet(info)

    return await wait_for(
        caught_up, f"{spec.durable} caught up with its stream", timeout=seconds, interval=0.1
    )


async def _dead_letters_after(
    js: JetStreamContext, topology: Topology, durable: str, after_seq: int
) -> list[events_pb2.DeadLetter]:
    """The consumer's dead letters stored after `after_seq` of the dead-letter stream."""
    sub = await js.pull_subscribe(
        topology.dead_letter(durable),
        stream=topology.dead_letter_stream,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after_seq + 1
        ),
    )
    letters: list[events_pb2.DeadLetter] = []
    try:
        while True:
            try:
                msgs = await sub.fetch(500, timeout=0.2)
            except TimeoutError:
                return letters
            for m in msgs:
                letters.append(events_pb2.DeadLetter.FromString(m.data))
                await m.ack()
    finally:
        await sub.unsubscribe()


async def _publish_all(js: JetStreamContext, subject: str, batch: list[bytes]) -> None:
    """Publish in order, a few at a time (each with a message id of its own)."""
    for start in range(0, len(batch), 32):
        await asyncio.gather(
            *(
                js.publish(subject, payload, headers={"Nats-Msg-Id": str(uuid.uuid4())})
                for payload in batch[start : start + 32]
            )
        )


def _reason_kind(reason: str) -> str:
    """The field (or the kind of failure) a reason starts with, for the report."""
    head = reason.split(":", 1)[0]
    if head.startswith("not a"):
        return "does not parse"
    return head.split("[", 1)[0][:60]


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("subject_suffix", sorted(SUBJECTS))
async def test_generated_events_are_processed_or_dead_lettered_and_the_consumer_goes_on(
    event_stack: Stack, error_records: ErrorRecords, subject_suffix: str
) -> None:
    s = event_stack
    full_name = SUBJECTS[subject_suffix]
    assert full_name in CANARIES, f"no valid example of {full_name}: add one to CANARIES"
    subject = f"{s.topology.namespace}.{subject_suffix}"
    consumers = _consumers_of(s.topology, subject)
    assert consumers, f"no consumer reads {subject}: nothing would be checked"
    dead_letters_before = (await s.js.stream_info(s.topology.dead_letter_stream)).state.last_seq

    generated = await asyncio.to_thread(draw, payloads(full_name, s))
    # What NATS refuses to carry never reaches a consumer: count it, publish the rest.
    too_big = [p for p in generated if len(p) > s.nc.max_payload - 4096]
    batch = [p for p in generated if len(p) <= s.nc.max_payload - 4096]
    await _publish_all(s.js, subject, batch)
    canary = CANARIES[full_name](s).SerializeToString()
    await s.js.publish(subject, canary, headers={"Nats-Msg-Id": str(uuid.uuid4())})

    report: list[str] = []
    for spec in consumers:
        on_subject, delivered = await _settle(s.js, spec, seconds=60 + len(batch) * 0.05)
        letters = await _dead_letters_after(s.js, s.topology, spec.durable, dead_letters_before)
        # A dead letter keeps the start of a big payload only.
        ours = {p[:MAX_KEPT_PAYLOAD_BYTES] for p in batch}
        mine = [x for x in letters if x.payload in ours]
        reasons = Counter(_reason_kind(x.reason) for x in mine)
        report.append(
            f"{subject_suffix} -> {spec.durable}: {len(batch)} published ({len(too_big)} over"
            f" the size limit not published), {len(batch) - len(mine)} processed,"
            f" {len(mine)} dead-lettered: {dict(reasons.most_common())};"
            f" {delivered - on_subject} deliveries beyond the {on_subject} messages so far"
        )
        # Each message handled on its first delivery (acknowledged or dead-lettered): a passing
        # failure, or a handler outlasting the ack wait, would have it delivered again.
        assert delivered == on_subject, f"{spec.durable}: {delivered} deliveries of {on_subject}"
        assert not [x.reason for x in mine if x.reason.startswith("failed ")]
        assert all(x.reason.strip() for x in mine)
        assert not [x.reason for x in letters if x.payload == canary]  # the consumer went on
        assert len(mine) == len(letters), [x.reason for x in letters if x not in mine][:5]
    print("\n".join(report))
    errors = [r for r in error_records.records if r.name.startswith(("services", "asyncio"))]
    assert not errors, [(r.name, r.getMessage(), r.exc_text) for r in errors[:5]]
