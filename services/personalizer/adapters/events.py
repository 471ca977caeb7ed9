"""Domain events of the personalizer as protobuf messages bound for the outbox."""

from __future__ import annotations

import uuid

from google.protobuf.timestamp_pb2 import Timestamp
from trainvite.common.v1 import common_pb2
from trainvite.events.v1 import events_pb2

from services.common.messaging.topology import Topology
from services.common.outbox import OutboxMessage
from services.personalizer.domain.model import Angle, InvitationApproved, InvitationBatch

ANGLE_TO_PB = {
    Angle.CLOSE_GAP: common_pb2.PERSONALIZATION_ANGLE_CLOSE_GAP,
    Angle.GO_DEEPER: common_pb2.PERSONALIZATION_ANGLE_GO_DEEPER,
    Angle.LEAD_ADOPTION: common_pb2.PERSONALIZATION_ANGLE_LEAD_ADOPTION,
    Angle.NEW_FEATURE: common_pb2.PERSONALIZATION_ANGLE_NEW_FEATURE,
    Angle.ONBOARDING: common_pb2.PERSONALIZATION_ANGLE_ONBOARDING,
}


def drafts_ready(batch: InvitationBatch, trigger: str, topology: Topology) -> OutboxMessage:
    """A batch waits for its CSM's review."""
    event_id = str(uuid.uuid4())
    now = Timestamp()
    now.GetCurrentTime()
    message = events_pb2.DraftsReady(
        event_id=event_id,
        occur_time=now,
        batch=batch.name,
        customer_id=batch.customer_id,
        csm_email=batch.sender.email,
        trigger=trigger,
        draft_count=len(batch.drafts),
    )
    return OutboxMessage(event_id, topology.drafts_ready, message.SerializeToString())


def invitation_approved(event: InvitationApproved, topology: Topology) -> OutboxMessage:
    """The approved invitation with its frozen content, for the dispatcher."""
    batch, draft = event.batch, event.draft
    at = Timestamp()
    at.FromDatetime(event.approved_at)
    message = events_pb2.InvitationApproved(
        event_id=str(event.event_id),
        occur_time=at,
        invitation=batch.draft_name(draft),
        batch=batch.name,
        customer_id=batch.customer_id,
        training_session=batch.session.name,
        recipient=common_pb2.Recipient(
            stakeholder_id=draft.recipient.stakeholder_id,
            display_name=draft.recipient.display_name,
            email=draft.recipient.email,
            time_zone=draft.recipient.time_zone,
        ),
        sender=common_pb2.Sender(email=batch.sender.email, display_name=batch.sender.display_name),
        content=common_pb2.InvitationContent(
            subject=draft.content.subject,
            text_body=draft.content.text_body,
            html_body=draft.content.html_body,
            calendar_ics=draft.content.calendar_ics,
        ),
        content_sha256=draft.content_sha256,
        approved_by=batch.approved_by,
        approve_time=at,
        angle=ANGLE_TO_PB[draft.angle],
    )
    if event.send_after is not None:
        message.send_after.FromDatetime(event.send_after)
    return OutboxMessage(
        event_id=str(event.event_id),
        subject=topology.invitation_approved,
        payload=message.SerializeToString(),
    )
