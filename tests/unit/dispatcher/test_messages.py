"""The dispatcher's messages: approvals decoded or refused as poison with the reason, and its
events on the wire with the fields the personalizer reads."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import pytest
from trainvite.common.v1 import common_pb2
from trainvite.events.v1 import events_pb2

from services.common.messaging.consumer import PoisonMessage
from services.common.messaging.topology import Topology
from services.dispatcher.adapters.events import event_registry
from services.dispatcher.api.subscriptions import invitation_approved
from services.dispatcher.domain.events import AddressSuppressed, DeliveryOutcome
from services.dispatcher.domain.model import DeliveryState
from tests.fakes.dispatcher import T0
from tests.integration.event_checks import approval

TOPOLOGY = Topology("unit")


def test_an_approval_decodes_to_the_invitation_and_its_event_id() -> None:
    event = approval("wei.chen@acme.example")
    event.send_after.FromDatetime(T0)
    decoded = invitation_approved(event.SerializeToString())
    assert str(decoded.event_id) == event.event_id
    a = decoded.approved
    assert (a.invitation, a.batch, a.recipient_email) == (
        event.invitation,
        event.batch,
        "wei.chen@acme.example",
    )
    assert a.send_after == T0 and a.approved_at == event.approve_time.ToDatetime(tzinfo=dt.UTC)


def test_an_approval_carries_the_csms_contact_budget_override() -> None:
    event = approval("wei.chen@acme.example")
    assert invitation_approved(event.SerializeToString()).approved.contact_budget_override == ""
    event.contact_budget_override = "asked for the advanced session"
    decoded = invitation_approved(event.SerializeToString())
    assert decoded.approved.contact_budget_override == "asked for the advanced session"


def _spoil_draft(e: events_pb2.InvitationApproved) -> None:
    e.invitation = f"customers/other/invitation-batches/{uuid.uuid4()}/drafts/{uuid.uuid4()}"


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda e: e.ClearField("recipient"), "missing fields: recipient.email"),
        (lambda e: e.ClearField("approve_time"), "missing fields: approve_time"),
        (lambda e: setattr(e, "event_id", "7"), "event_id: '7' is not a UUID"),
        (lambda e: setattr(e, "batch", "customers/x/batches/1"), "batch: "),
        (_spoil_draft, "is not a draft of the batch"),
        (lambda e: setattr(e.sender, "email", "alex"), "sender.email: 'alex' is not an email"),
        (lambda e: setattr(e.content, "subject", "changed"), "content does not match"),
    ],
)
def test_an_approval_that_can_never_be_sent_is_poison(
    spoil: Callable[[events_pb2.InvitationApproved], None], reason: str
) -> None:
    event = approval("wei.chen@acme.example")
    spoil(event)
    with pytest.raises(PoisonMessage, match=reason):
        invitation_approved(event.SerializeToString())


def test_the_events_go_out_on_their_subjects_with_their_fields() -> None:
    registry = event_registry(TOPOLOGY, lambda: T0)
    outcome = DeliveryOutcome(
        invitation="customers/a/invitation-batches/b/drafts/c",
        batch="customers/a/invitation-batches/b",
        state=DeliveryState.SENT,
        message_id="<d@trainvite.dev>",
        provider_message_id="m1",
        detail="",
    )
    row = registry.to_outbox(outcome)
    assert row.subject == TOPOLOGY.delivery_outcome
    message = events_pb2.DeliveryOutcome.FromString(row.payload)
    assert message.event_id == str(outcome.event_id)
    assert message.occur_time.ToDatetime(tzinfo=dt.UTC) == T0
    assert message.state == common_pb2.DELIVERY_STATE_SENT
    assert (message.invitation, message.batch, message.message_id, message.provider_message_id) == (
        outcome.invitation,
        outcome.batch,
        outcome.message_id,
        "m1",
    )

    suppressed = AddressSuppressed(email="wei.chen@acme.example", reason="unsubscribed")
    row = registry.to_outbox(suppressed)
    assert row.subject == TOPOLOGY.address_suppressed
    decoded = events_pb2.AddressSuppressed.FromString(row.payload)
    assert (decoded.event_id, decoded.email, decoded.reason) == (
        str(suppressed.event_id),
        "wei.chen@acme.example",
        "unsubscribed",
    )
