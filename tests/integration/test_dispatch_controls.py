"""Unsubscribe, suppression at send time, pausing, resuming and cancelling, on real services."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from trainvite.common.v1 import common_pb2
from trainvite.dispatcher.v1 import dispatcher_pb2 as dpb
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from tests.helpers import Clients, batch_when
from tests.integration.catalog_data import analytics_session
from tests.waiting import NotYet, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(fresh_database_url: str) -> str:
    """A database per test: a delivery one test holds back would be sent by the next test's
    dispatcher."""
    return fresh_database_url


JORDAN = "jordan.blake@trainvite.dev"  # Acme's CSM


async def drafted(c: Clients) -> pb.InvitationBatch:
    session = await analytics_session(c)
    batch = await c.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(parent="customers/acme", training_session=session.name),
        metadata=c.other_csm,
    )
    assert batch.drafts
    return batch


async def status_when(
    c: Clients, batch: pb.InvitationBatch, done: Callable[[dpb.BatchDeliveryStatus], bool]
) -> dpb.BatchDeliveryStatus:
    async def status() -> dpb.BatchDeliveryStatus | NotYet:
        found = await c.dispatcher.GetBatchDeliveryStatus(
            dpb.GetBatchDeliveryStatusRequest(name=f"{batch.name}/delivery-status"),
            metadata=c.other_csm,
        )
        return found if done(found) else NotYet(found)

    return await wait_for(status, f"the delivery status of {batch.name} as expected", timeout=15)


async def approved_and_held(c: Clients, batch: pb.InvitationBatch) -> dpb.BatchDeliveryStatus:
    """Approve the batch and pause it once its invitations reach the dispatcher (a batch can be
    paused only then); Jordan's mailbox holds them meanwhile."""
    mailbox = dpb.SenderControl(name=f"senders/{JORDAN}", paused=True)
    await c.dispatcher.UpdateSenderControl(
        dpb.UpdateSenderControlRequest(sender_control=mailbox), metadata=c.other_csm
    )
    try:
        await c.personalizer.ApproveInvitationBatch(
            pb.ApproveInvitationBatchRequest(name=batch.name), metadata=c.other_csm
        )
        await status_when(c, batch, lambda s: len(s.deliveries) == len(batch.drafts))
        held = await c.dispatcher.PauseBatchDelivery(
            dpb.PauseBatchDeliveryRequest(name=f"{batch.name}/delivery-status"),
            metadata=c.other_csm,
        )
    finally:
        mailbox.paused = False
        await c.dispatcher.UpdateSenderControl(
            dpb.UpdateSenderControlRequest(sender_control=mailbox), metadata=c.other_csm
        )
    return held


def sent_to(outbox: Path) -> list[str]:
    return [
        str(
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["To"]
            .addresses[0]
            .addr_spec
        )
        for p in outbox.glob("*.eml")
    ]


# The team is drafted again right after its invitations: only the suppression may leave anyone out.
@pytest.mark.personalizer_settings(frequency_cap_days=0)
async def test_an_address_suppressed_after_approval_receives_nothing(
    services: Clients, outbox_dir: Path
) -> None:
    batch = await drafted(services)
    status_name = f"{batch.name}/delivery-status"
    held = await approved_and_held(services, batch)
    assert held.paused and held.pending_count == len(batch.drafts)

    wei = next(d for d in batch.drafts if d.recipient.id == "ac-analyst")
    answer = await services.dispatcher.Unsubscribe(
        dpb.UnsubscribeRequest(email=wei.recipient.email.upper(), reason="asked the CSM"),
        metadata=services.other_csm,
    )
    assert answer.email == wei.recipient.email
    await services.dispatcher.ResumeBatchDelivery(
        dpb.ResumeBatchDeliveryRequest(name=status_name), metadata=services.other_csm
    )
    done = await status_when(services, batch, lambda s: s.pending_count == 0)
    states = {d.recipient_email: d for d in done.deliveries}
    assert states[wei.recipient.email].state == common_pb2.DELIVERY_STATE_SUPPRESSED
    assert "asked the CSM" in states[wei.recipient.email].detail
    assert done.sent_count == len(batch.drafts) - 1
    assert wei.recipient.email not in sent_to(outbox_dir)

    # Drafting leaves the suppressed address out, and the CSM cannot add it back.
    async def drafted_without_wei() -> pb.InvitationBatch | NotYet:
        again = await drafted(services)
        left_out = {e.stakeholder.id: e.reason for e in again.excluded}
        suppressed = left_out.get("ac-analyst") == pb.EXCLUSION_REASON_SUPPRESSED
        return again if suppressed else NotYet(left_out)

    again = await wait_for(
        drafted_without_wei, "Wei left out of new drafts as suppressed", timeout=10
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.personalizer.AddInvitationRecipient(
            pb.AddInvitationRecipientRequest(batch=again.name, stakeholder="ac-analyst"),
            metadata=services.other_csm,
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_the_one_click_link_unsubscribes_its_recipient_only(
    services: Clients, outbox_dir: Path
) -> None:
    batch = await drafted(services)
    await services.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=batch.name), metadata=services.other_csm
    )
    await status_when(services, batch, lambda s: s.sent_count == len(batch.drafts))
    message = next(
        m
        for m in (
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in outbox_dir.glob("*.eml")
        )
        if "sam.taylor" in str(m["To"])
    )
    link = str(message["List-Unsubscribe"]).strip("<>")
    token = parse_qs(urlsplit(link).query)["token"][0]
    answer = await services.dispatcher.Unsubscribe(
        dpb.UnsubscribeRequest(token=token), metadata=services.gateway
    )
    assert answer.email == "sam.taylor@acme.example"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.dispatcher.Unsubscribe(
            dpb.UnsubscribeRequest(token=token[:-2] + "xx"), metadata=services.gateway
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_cancel_stops_unsent_invitations(services: Clients, outbox_dir: Path) -> None:
    batch = await drafted(services)
    status_name = f"{batch.name}/delivery-status"
    await approved_and_held(services, batch)
    with pytest.raises(grpc.aio.AioRpcError) as err:  # not Alex's batch: as if there were none
        await services.dispatcher.CancelBatchDelivery(
            dpb.CancelBatchDeliveryRequest(name=status_name), metadata=services.csm
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    cancelled = await services.dispatcher.CancelBatchDelivery(
        dpb.CancelBatchDeliveryRequest(name=status_name), metadata=services.other_csm
    )
    assert cancelled.cancelled_count == len(batch.drafts)
    await services.dispatcher.ResumeBatchDelivery(
        dpb.ResumeBatchDeliveryRequest(name=status_name), metadata=services.other_csm
    )
    await batch_when(
        services,
        batch.name,
        lambda d: d.delivery_state == common_pb2.DELIVERY_STATE_CANCELLED,
        "every invitation of the batch shown as cancelled",
        metadata=services.other_csm,
        timeout=5,
    )
    assert not {d.recipient.email for d in batch.drafts} & set(sent_to(outbox_dir))


async def test_a_paused_mailbox_sends_nothing_until_resumed(services: Clients) -> None:
    control = dpb.SenderControl(name=f"senders/{JORDAN}", paused=True)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.dispatcher.UpdateSenderControl(
            dpb.UpdateSenderControlRequest(sender_control=control), metadata=services.csm
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    paused = await services.dispatcher.UpdateSenderControl(
        dpb.UpdateSenderControlRequest(sender_control=control), metadata=services.other_csm
    )
    assert paused.paused
    try:
        batch = await drafted(services)
        await services.personalizer.ApproveInvitationBatch(
            pb.ApproveInvitationBatchRequest(name=batch.name), metadata=services.other_csm
        )
        held = await status_when(services, batch, lambda s: len(s.deliveries) == len(batch.drafts))
        await asyncio.sleep(1)  # the send workers poll every 0.1 s: they had their chances
        held = await status_when(services, batch, lambda s: True)
        assert held.sent_count == 0 and held.pending_count == len(batch.drafts)
    finally:
        control.paused = False
        await services.dispatcher.UpdateSenderControl(
            dpb.UpdateSenderControlRequest(sender_control=control), metadata=services.other_csm
        )
    await status_when(services, batch, lambda s: s.sent_count == len(batch.drafts))


async def test_an_invitation_with_a_send_time_waits_for_it(services: Clients) -> None:
    batch = await drafted(services)
    send_time = Timestamp()
    send_time.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3))
    await services.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=batch.name, send_time=send_time),
        metadata=services.other_csm,
    )
    held = await status_when(services, batch, lambda s: len(s.deliveries) == len(batch.drafts))
    assert held.sent_count == 0
    done = await status_when(services, batch, lambda s: s.sent_count == len(batch.drafts))
    first_sent = min(d.sent_time.ToDatetime(tzinfo=dt.UTC) for d in done.deliveries)
    assert first_sent >= send_time.ToDatetime(tzinfo=dt.UTC)
