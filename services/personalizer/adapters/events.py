"""The personalizer's domain events as the protobuf messages other services read."""

from __future__ import annotations

from trainvite.common.v1 import common_pb2
from trainvite.events.v1 import events_pb2

from services.common.clock import Clock, utc_now
from services.common.messaging.registry import EventRegistry
from services.common.messaging.topology import Topology
from services.personalizer.domain.events import DraftsReady, InvitationApproved
from services.personalizer.domain.model import Angle, Purpose

ANGLE_TO_PB = {
    Angle.CLOSE_GAP: common_pb2.PERSONALIZATION_ANGLE_CLOSE_GAP,
    Angle.GO_DEEPER: common_pb2.PERSONALIZATION_ANGLE_GO_DEEPER,
    Angle.LEAD_ADOPTION: common_pb2.PERSONALIZATION_ANGLE_LEAD_ADOPTION,
    Angle.NEW_FEATURE: common_pb2.PERSONALIZATION_ANGLE_NEW_FEATURE,
    Angle.ONBOARDING: common_pb2.PERSONALIZATION_ANGLE_ONBOARDING,
}


def event_registry(topology: Topology, clock: Clock = utc_now) -> EventRegistry:
    registry = EventRegistry(clock)
    registry.register(InvitationApproved, topology.invitation_approved, invitation_approved)
    registry.register(DraftsReady, topology.drafts_ready, drafts_ready)
    return registry


def drafts_ready(event: DraftsReady) -> events_pb2.DraftsReady:
    """A batch waits for its CSM's review."""
    return events_pb2.DraftsReady(
        batch=event.batch,
        customer_id=event.customer_id,
        csm_email=event.csm_email,
        trigger=event.trigger,
        draft_count=event.draft_count,
    )


_PURPOSE_TO_PB = {
    Purpose.INVITATION: common_pb2.MESSAGE_PURPOSE_INVITATION,
    Purpose.RESCHEDULED: common_pb2.MESSAGE_PURPOSE_NOTICE,
    Purpose.CANCELLED: common_pb2.MESSAGE_PURPOSE_NOTICE,
    Purpose.UPDATED: common_pb2.MESSAGE_PURPOSE_NOTICE,
    Purpose.CONFIRMATION: common_pb2.MESSAGE_PURPOSE_CONFIRMATION,
}


def invitation_approved(event: InvitationApproved) -> events_pb2.InvitationApproved:
    """The approved invitation with its frozen content, for the dispatcher; it happened when it
    was approved."""
    message = events_pb2.InvitationApproved(
        invitation=event.invitation,
        batch=event.batch,
        customer_id=event.customer_id,
        training_session=event.training_session,
        recipient=common_pb2.Recipient(
            stakeholder_id=event.recipient.stakeholder_id,
            display_name=event.recipient.display_name,
            email=event.recipient.email,
            time_zone=event.recipient.time_zone,
        ),
        sender=common_pb2.Sender(email=event.sender.email, display_name=event.sender.display_name),
        content=common_pb2.InvitationContent(
            subject=event.content.subject,
            text_body=event.content.text_body,
            html_body=event.content.html_body,
            calendar_ics=event.content.calendar_ics,
        ),
        content_sha256=event.content_sha256,
        approved_by=event.approved_by,
        angle=ANGLE_TO_PB[event.angle],
        purpose=_PURPOSE_TO_PB[event.purpose],
        contact_budget_override=event.contact_budget_override,
    )
    message.occur_time.FromDatetime(event.approved_at)
    message.approve_time.FromDatetime(event.approved_at)
    if event.send_after is not None:
        message.send_after.FromDatetime(event.send_after)
    return message
