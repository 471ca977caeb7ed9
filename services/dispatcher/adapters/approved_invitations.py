"""Entry point for approved invitations (JetStream): decode, store a delivery, ack."""

from __future__ import annotations

import datetime as dt
import re

from nats.aio.msg import Msg
from trainvite.events.v1 import events_pb2

from services.common.fingerprint import content_sha256
from services.common.messaging import decoding
from services.common.messaging.consumer import MessageHandler, PoisonMessage
from services.dispatcher.domain.model import ApprovedInvitation
from services.dispatcher.service_layer import handlers
from services.dispatcher.service_layer.handlers import Dependencies

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_BATCH = re.compile(rf"customers/[A-Za-z0-9_-]{{1,64}}/invitation-batches/{_UUID}")
_DRAFT = re.compile(rf"{_BATCH.pattern}/drafts/{_UUID}")


def decode(data: bytes) -> ApprovedInvitation:
    """The approved invitation, or PoisonMessage saying what is wrong with the event."""
    event = decoding.parse(events_pb2.InvitationApproved, data)
    missing = [
        name
        for name, value in (
            ("event_id", event.event_id),
            ("invitation", event.invitation),
            ("batch", event.batch),
            ("recipient.email", event.recipient.email),
            ("sender.email", event.sender.email),
            ("content.subject", event.content.subject),
            ("content_sha256", event.content_sha256),
            ("approved_by", event.approved_by),
        )
        if not value
    ]
    if missing or not event.HasField("approve_time"):
        raise PoisonMessage(f"missing fields: {', '.join(missing or ['approve_time'])}")
    decoding.uuid_field(event, "event_id")
    if not _BATCH.fullmatch(event.batch):
        raise PoisonMessage(f"batch: {event.batch[:120]!r} is not a batch's name")
    if not _DRAFT.fullmatch(event.invitation) or not event.invitation.startswith(event.batch + "/"):
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
    return ApprovedInvitation(
        invitation=event.invitation,
        batch=event.batch,
        customer_id=event.customer_id,
        training_session=event.training_session,
        recipient_email=event.recipient.email,
        recipient_name=event.recipient.display_name,
        sender_email=event.sender.email,
        sender_name=event.sender.display_name,
        subject=event.content.subject,
        text_body=event.content.text_body,
        html_body=event.content.html_body,
        calendar_ics=event.content.calendar_ics,
        content_sha256=event.content_sha256,
        approved_by=event.approved_by,
        approved_at=approved_at,
        send_after=send_after,
    )


def approved_invitation_handler(deps: Dependencies) -> MessageHandler:
    async def handle(msg: Msg) -> None:
        await handlers.accept_invitation(deps, decode(msg.data))

    return handle
