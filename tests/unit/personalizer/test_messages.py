"""The personalizer's events as messages: what its registry encodes, what its decoders take or
refuse, and which use case each consumed subject reaches."""

from __future__ import annotations

import datetime as dt
import uuid
from types import SimpleNamespace
from typing import cast

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.msg import Msg
from trainvite.common.v1 import common_pb2
from trainvite.events.v1 import events_pb2

from services.common.messaging.consumer import MessageHandler, PoisonMessage
from services.common.messaging.topology import Topology
from services.personalizer.adapters.catalog_client import FORMAT_TO_PB, LEVEL_TO_PB
from services.personalizer.adapters.events import event_registry
from services.personalizer.api import subscriptions
from services.personalizer.api.convert import session_to_pb
from services.personalizer.domain.events import DraftsReady
from services.personalizer.domain.model import DeliveryState, Purpose
from services.personalizer.service_layer import drafting, review
from tests.fakes.personalizer import FakePersonalizer
from tests.unit.personalizer.world import CSM, DASHBOARDS, NOW, world

TOPOLOGY = Topology("unit")
REGISTRY_NOW = NOW + dt.timedelta(minutes=5)


def _ts(at: dt.datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(at)
    return t


async def test_an_approved_invitation_goes_out_with_every_field_the_dispatcher_reads() -> None:
    p = world()
    batch = await drafting.draft_invitations(
        p.deps, "customers/cloudtech", DASHBOARDS.name, "", "", CSM
    )
    send_after = NOW + dt.timedelta(days=1)
    await review.approve_batch(p.deps, batch.name, "", [], CSM, send_after)
    event = p.store.published[0]
    row = event_registry(TOPOLOGY, lambda: REGISTRY_NOW).to_outbox(event)
    assert (row.event_id, row.subject) == (str(event.event_id), TOPOLOGY.invitation_approved)
    message = events_pb2.InvitationApproved.FromString(row.payload)
    d = p.store.batch(batch.id).drafts[0]
    assert message == events_pb2.InvitationApproved(
        event_id=str(event.event_id),
        occur_time=_ts(NOW),
        invitation=batch.draft_name(d),
        batch=batch.name,
        customer_id="cloudtech",
        training_session=DASHBOARDS.name,
        recipient=common_pb2.Recipient(
            stakeholder_id=d.recipient.stakeholder_id,
            display_name=d.recipient.display_name,
            email=d.recipient.email,
            time_zone=d.recipient.time_zone,
        ),
        sender=common_pb2.Sender(email=CSM.subject, display_name="Alex Kim"),
        content=common_pb2.InvitationContent(
            subject=d.content.subject,
            text_body=d.content.text_body,
            html_body=d.content.html_body,
            calendar_ics=d.content.calendar_ics,
        ),
        content_sha256=d.content.sha256(),
        approved_by=CSM.subject,
        approve_time=_ts(NOW),
        angle=common_pb2.PERSONALIZATION_ANGLE_CLOSE_GAP,
        send_after=_ts(send_after),
        purpose=common_pb2.MESSAGE_PURPOSE_INVITATION,
    )


def test_drafts_ready_goes_out_when_it_is_written() -> None:
    event = DraftsReady(
        batch="customers/c/invitation-batches/b",
        customer_id="c",
        csm_email="csm@x.dev",
        trigger="low_adoption",
        draft_count=3,
    )
    row = event_registry(TOPOLOGY, lambda: REGISTRY_NOW).to_outbox(event)
    assert row.subject == TOPOLOGY.drafts_ready
    assert events_pb2.DraftsReady.FromString(row.payload) == events_pb2.DraftsReady(
        event_id=str(event.event_id),
        occur_time=_ts(REGISTRY_NOW),
        batch=event.batch,
        customer_id="c",
        csm_email="csm@x.dev",
        trigger="low_adoption",
        draft_count=3,
    )


# Decoders ------------------------------------------------------------------------------------

DRAFT = f"customers/cloudtech/invitation-batches/{uuid.uuid4()}/drafts/{uuid.uuid4()}"


def _outcome(**fields: object) -> bytes:
    values: dict[str, object] = {
        "event_id": str(uuid.uuid4()),
        "invitation": DRAFT,
        "state": common_pb2.DELIVERY_STATE_SENT,
        "occur_time": Timestamp(seconds=1_767_225_600),
    }
    values.update(fields)
    return events_pb2.DeliveryOutcome(**values).SerializeToString()  # type: ignore[arg-type]


def test_a_delivery_outcome_names_its_draft_and_an_outcome() -> None:
    outcome = subscriptions.delivery_outcome(_outcome(detail="250 ok"))
    assert str(outcome.draft_id) == DRAFT.rsplit("/", 1)[1]
    assert (outcome.state, outcome.detail) == (DeliveryState.SENT, "250 ok")
    assert outcome.occurred_at == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(PoisonMessage, match="occur_time"):
        subscriptions.delivery_outcome(_outcome(occur_time=None))
    with pytest.raises(PoisonMessage, match="invitation"):
        subscriptions.delivery_outcome(_outcome(invitation="drafts/17"))
    with pytest.raises(PoisonMessage, match="state"):
        subscriptions.delivery_outcome(_outcome(state=common_pb2.DELIVERY_STATE_UNSPECIFIED))


def _change(**session_fields: object) -> events_pb2.TrainingSessionChanged:
    session = session_to_pb(DASHBOARDS)
    for field, value in session_fields.items():
        setattr(session, field, value)
    return events_pb2.TrainingSessionChanged(
        event_id=str(uuid.uuid4()),
        kind=events_pb2.SESSION_CHANGE_KIND_RESCHEDULED,
        training_session=session,
        previous_start_time=_ts(NOW),
        previous_time_zone="Europe/Paris",
        reason="Room taken",
        changed_by="editor@trainvite.dev",
    )


def test_a_session_change_becomes_a_notice_or_is_poison() -> None:
    event = _change()
    notice = subscriptions.session_changed(event.SerializeToString())
    assert (notice.event_id, notice.purpose) == (uuid.UUID(event.event_id), Purpose.RESCHEDULED)
    assert notice.session.name == DASHBOARDS.name
    assert notice.session.start_time == DASHBOARDS.start_time
    assert (notice.previous_start_time, notice.previous_time_zone) == (NOW, "Europe/Paris")
    assert LEVEL_TO_PB[notice.session.level] and FORMAT_TO_PB[notice.session.format]
    for spoiled, field in (
        (_change(name="training-sessions/not-a-uuid"), "training_session.name"),
        (_change(time_zone="Mars/Olympus"), "training_session.time_zone"),
        (events_pb2.TrainingSessionChanged(event_id=str(uuid.uuid4())), "kind"),
    ):
        with pytest.raises(PoisonMessage, match=field):
            subscriptions.session_changed(spoiled.SerializeToString())


def test_a_trigger_without_what_it_is_about_is_poison() -> None:
    event_id = str(uuid.uuid4())
    with pytest.raises(PoisonMessage, match="feature"):
        subscriptions.feature_released(
            events_pb2.FeatureReleased(event_id=event_id).SerializeToString()
        )
    with pytest.raises(PoisonMessage, match="stakeholder_ids"):
        subscriptions.onboarding_scheduled(
            events_pb2.OnboardingScheduled(event_id=event_id, customer_id="c").SerializeToString()
        )
    with pytest.raises(PoisonMessage, match="email"):
        subscriptions.address_suppressed(
            events_pb2.AddressSuppressed(event_id=event_id, email="nobody").SerializeToString()
        )


# Routes --------------------------------------------------------------------------------------


def _handlers(p: FakePersonalizer) -> dict[str, MessageHandler]:
    return {spec.durable: h for spec, h in subscriptions.subscriptions(p.deps, TOPOLOGY)}


def _msg(subject: str, data: bytes) -> Msg:
    return cast(Msg, SimpleNamespace(subject=subject, data=data))


async def test_every_subject_a_personalizer_consumer_reads_has_its_decoder() -> None:
    handlers = _handlers(world())
    specs = [s for s in TOPOLOGY.consumers() if s.durable.startswith("personalizer-")]
    assert sorted(handlers) == sorted(s.durable for s in specs)
    for spec in specs:
        for event in spec.events:
            message = event.message.rsplit(".", 1)[1]
            with pytest.raises(PoisonMessage, match=f"not an? {message}"):
                await handlers[spec.durable](_msg(event.subject, b"\xff\x00 garbage"))


async def test_a_message_reaches_its_use_case() -> None:
    p = world()
    batch = await drafting.draft_invitations(
        p.deps, "customers/cloudtech", DASHBOARDS.name, "", "", CSM
    )
    await review.approve_batch(p.deps, batch.name, "", [], CSM)
    handlers = _handlers(p)
    spec = TOPOLOGY.personalizer_delivery_outcomes
    invitation = batch.draft_name(batch.drafts[0])
    payload = _outcome(invitation=invitation, state=common_pb2.DELIVERY_STATE_SUPPRESSED)
    await handlers[spec.durable](_msg(TOPOLOGY.delivery_outcome, payload))
    assert p.store.batch(batch.id).drafts[0].delivery_state is DeliveryState.SUPPRESSED
    change = _change()
    await handlers[TOPOLOGY.personalizer_session_changes.durable](
        _msg(TOPOLOGY.session_changed, change.SerializeToString())
    )
    assert any(b.purpose is Purpose.RESCHEDULED for b in p.store.batches.values())
