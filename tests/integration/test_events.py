"""Events on a real JetStream: bad ones are dead-lettered with the reason; repeats do nothing."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from trainvite.dispatcher.v1 import dispatcher_pb2
from trainvite.events.v1 import events_pb2
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from services.common.messaging.topology import Topology
from tests.helpers import Clients
from tests.integration.event_checks import DeadLetters
from tests.waiting import NotYet, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(fresh_database_url: str) -> str:
    """A database per test: its tests invite the same people, and a delivery still pending when
    one ends would be sent by the next test's dispatcher."""
    return fresh_database_url


async def test_a_malformed_approval_is_dead_lettered_with_the_reason(
    services: Clients, js: JetStreamContext, namespace: str
) -> None:
    topology = Topology(namespace)
    await js.publish(
        topology.invitation_approved, b"\xff not protobuf", headers={"Nats-Msg-Id": "bad-1"}
    )
    incomplete = events_pb2.InvitationApproved(event_id=str(uuid.uuid4()), invitation="x")
    await js.publish(
        topology.invitation_approved,
        incomplete.SerializeToString(),
        headers={"Nats-Msg-Id": "bad-2"},
    )
    dead = DeadLetters(js, topology, topology.dispatcher_invitations.durable)
    try:
        await dead.wait_for(2)
        letters = await dead.within(0.2)
    finally:
        await dead.close()
    assert len(letters) == 2
    assert letters[0].payload == b"\xff not protobuf"
    assert "not an InvitationApproved" in letters[0].reason
    assert "missing fields" in letters[1].reason and "recipient.email" in letters[1].reason


async def test_a_redelivered_approval_sends_once(
    services: Clients, js: JetStreamContext, namespace: str, outbox_dir: Path
) -> None:
    batch = await services.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(parent="customers/northwind", topic="Workflow Automation"),
        metadata=services.csm,
    )
    assert batch.drafts
    approved = await services.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=batch.name), metadata=services.csm
    )
    # Replay the approval events as a new publisher would (new message ids): the dispatcher
    # must recognise the invitations, not the message ids.
    topology = Topology(namespace)
    sub = await js.pull_subscribe(topology.invitation_approved, stream=topology.invitations_stream)
    originals: list[Msg] = []
    while len(originals) < len(approved.drafts):
        originals += await sub.fetch(len(approved.drafts) - len(originals), timeout=5)
    for m in originals:
        await js.publish(m.subject, m.data, headers={"Nats-Msg-Id": str(uuid.uuid4())})
        await m.ack()

    async def all_sent() -> dispatcher_pb2.BatchDeliveryStatus | NotYet:
        status = await services.dispatcher.GetBatchDeliveryStatus(
            dispatcher_pb2.GetBatchDeliveryStatusRequest(name=f"{batch.name}/delivery-status"),
            metadata=services.csm,
        )
        return status if status.sent_count == len(batch.drafts) else NotYet(status)

    status = await wait_for(all_sent, "every invitation of the batch sent", timeout=10)

    # Every replayed event has been processed (acked) by the dispatcher before we count.
    spec = topology.dispatcher_invitations

    async def processed() -> int | NotYet:
        info = await js.consumer_info(spec.stream, spec.durable)
        acked = info.ack_floor.consumer_seq if info.ack_floor else 0
        return acked if acked >= 2 * len(batch.drafts) else NotYet(acked)

    await wait_for(processed, "the originals and their replays acked by the dispatcher")
    assert status.sent_count == len(status.deliveries) == len(batch.drafts)
    assert len(list(outbox_dir.glob("*.eml"))) == len(batch.drafts)
