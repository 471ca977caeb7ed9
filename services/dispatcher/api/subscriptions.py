"""The dispatcher's NATS entry points: per consumed subject, its decoder and its use case."""

from __future__ import annotations

import datetime as dt

from trainvite.events.v1 import events_pb2

from services.common.fingerprint import content_sha256
from services.common.messaging import decoding
from services.common.messaging.consumer import MessageHandler, PoisonMessage
from services.common.messaging.inbound import Route, by_subject
from services.common.messaging.topology import ConsumerSpec, Topology
from services.dispatcher.domain import names
from services.dispatcher.domain.facts import InvitationApproved
from services.dispatcher.domain.model import ApprovedInvitation
from services.dispatcher.service_layer import invitations
from services.dispatcher.service_layer.dependencies import Dependencies


def invitation_approved(data: bytes) -> InvitationApproved:
    """The approved invitation, or PoisonMessage saying what is wrong with the event."""
    event = decoding.parse(events_pb2.InvitationApproved, data)
    missing = [
        path
        for path in (
            "event_id",
            "invitation",
            "batch",
            "recipient.email",
            "sender.email",
            "content.subject",
            "content_sha256",
            "approved_by",
        )
        if not decoding.field_value(event, path)
    ]
    if missing or not event.HasField("approve_time"):
        raise PoisonMessage(f"missing fields: {', '.join(missing or ['approve_time'])}")
    event_id = decoding.uuid_field(event, "event_id")
    if not names.is_batch(event.batch):
        raise PoisonMessage(f"batch: {event.batch[:120]!r} is not a batch's name")
    if not names.is_draft_of(event.invitation, event.batch):
        raise PoisonMessage(f"invitation: {event.invitation[:160]!r} is not a draft of the batch")
    for path in ("recipient.email", "sender.email"):
        address = decoding.require_email(event, path)
        if not address.isascii():
            # An address outside ASCII needs SMTPUTF8 (RFC 6531) end to end, which the senders
            # do not negotiate: the message would leave with a broken To or not at all.
            raise PoisonMessage(f"{path}: {address[:80]!r} needs SMTPUTF8, which is not offered")
    c = event.content
    if content_sha256(c.subject, c.text_body, c.html_body, c.calendar_ics) != event.content_sha256:
        raise PoisonMessage("content does not match the approved content_sha256")
    approved_at = event.approve_time.ToDatetime(tzinfo=dt.UTC)
    send_after = (
        event.send_after.ToDatetime(tzinfo=dt.UTC) if event.HasField("send_after") else approved_at
    )
    approved = ApprovedInvitation(
        invitation=event.invitation,
        batch=event.batch,
        customer_id=event.customer_id,
        training_session=event.training_session,
        recipient_email=event.recipient.email,
        recipient_name=event.recipient.display_name,
        sender_email=event.sender.email,
        sender_name=event.sender.display_name,
        subject=c.subject,
        text_body=c.text_body,
        html_body=c.html_body,
        calendar_ics=c.calendar_ics,
        content_sha256=event.content_sha256,
        approved_by=event.approved_by,
        approved_at=approved_at,
        send_after=send_after,
    )
    return InvitationApproved(event_id, approved)


def subscriptions(
    deps: Dependencies, topology: Topology
) -> list[tuple[ConsumerSpec, MessageHandler]]:
    """Each approved invitation becomes one delivery."""

    async def accept(approval: InvitationApproved) -> bool:
        return await invitations.accept_invitation(deps, approval)

    approvals = by_subject({topology.invitation_approved: Route(invitation_approved, accept)})
    return [(topology.dispatcher_invitations, approvals)]
