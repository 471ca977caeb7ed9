"""Domain objects to the dispatcher's protobuf messages."""

from __future__ import annotations

from trainvite.common.v1 import common_pb2
from trainvite.dispatcher.v1 import dispatcher_pb2 as pb

from services.dispatcher.domain.model import Delivery, DeliveryState
from services.dispatcher.domain.tracking import Counts, InvitationStatus, Stage
from services.dispatcher.service_layer.controls import BatchStatus
from services.dispatcher.service_layer.tracking import BatchTracking, SessionTracking

STATE_TO_PB = {
    DeliveryState.PENDING: common_pb2.DELIVERY_STATE_PENDING,
    DeliveryState.SENT: common_pb2.DELIVERY_STATE_SENT,
    DeliveryState.FAILED: common_pb2.DELIVERY_STATE_FAILED,
    DeliveryState.SUPPRESSED: common_pb2.DELIVERY_STATE_SUPPRESSED,
    DeliveryState.CANCELLED: common_pb2.DELIVERY_STATE_CANCELLED,
}


def delivery_to_pb(d: Delivery) -> pb.Delivery:
    message = pb.Delivery(
        invitation=d.approved.invitation,
        recipient_email=d.approved.recipient_email,
        state=STATE_TO_PB[d.state],
        message_id=d.message_id,
        provider_message_id=d.provider_message_id,
        detail=d.detail,
        attempts=d.attempts,
    )
    if d.sent_at is not None:
        message.sent_time.FromDatetime(d.sent_at)
    return message


def status_to_pb(name: str, status: BatchStatus) -> pb.BatchDeliveryStatus:
    def count(state: DeliveryState) -> int:
        return sum(1 for d in status.deliveries if d.state is state)

    return pb.BatchDeliveryStatus(
        name=name,
        deliveries=[delivery_to_pb(d) for d in status.deliveries],
        pending_count=count(DeliveryState.PENDING),
        sent_count=count(DeliveryState.SENT),
        failed_count=count(DeliveryState.FAILED),
        suppressed_count=count(DeliveryState.SUPPRESSED),
        cancelled_count=count(DeliveryState.CANCELLED),
        paused=status.paused,
    )


STAGE_TO_PB = {
    Stage.NOT_SENT: pb.TRACKING_STAGE_NOT_SENT,
    Stage.SENT: pb.TRACKING_STAGE_SENT,
    Stage.WAITLISTED: pb.TRACKING_STAGE_WAITLISTED,
    Stage.REGISTERED: pb.TRACKING_STAGE_REGISTERED,
    Stage.CANCELLED: pb.TRACKING_STAGE_CANCELLED,
    Stage.ATTENDED: pb.TRACKING_STAGE_ATTENDED,
    Stage.NO_SHOW: pb.TRACKING_STAGE_NO_SHOW,
}


def invitation_tracking_to_pb(i: InvitationStatus) -> pb.InvitationTracking:
    message = pb.InvitationTracking(
        invitation=i.invitation,
        recipient_email=i.recipient_email,
        training_session=i.training_session,
        delivery_state=STATE_TO_PB[DeliveryState(i.delivery_state)],
        stage=STAGE_TO_PB[i.stage],
        waitlist_position=i.waitlist_position,
        minutes_attended=i.minutes_attended,
        unsubscribed=i.unsubscribed,
    )
    if i.updated_at is not None:
        message.update_time.FromDatetime(i.updated_at)
    return message


def counts_to_pb(c: Counts) -> pb.TrackingCounts:
    return pb.TrackingCounts(
        invited=c.invited,
        sent=c.sent,
        registered=c.registered,
        waitlisted=c.waitlisted,
        attended=c.attended,
        no_show=c.no_show,
        cancelled=c.cancelled,
        unsubscribed=c.unsubscribed,
        not_sent=c.not_sent,
    )


def batch_tracking_to_pb(name: str, t: BatchTracking) -> pb.BatchTracking:
    return pb.BatchTracking(
        name=name,
        invitations=[invitation_tracking_to_pb(i) for i in t.invitations],
        counts=counts_to_pb(t.counts),
        summary=t.counts.summary(),
    )


def session_tracking_to_pb(name: str, t: SessionTracking) -> pb.SessionTracking:
    return pb.SessionTracking(
        name=name,
        counts=counts_to_pb(t.counts),
        customers=[
            pb.CustomerTracking(customer_id=customer, counts=counts_to_pb(counts))
            for customer, counts in t.customers
        ],
        summary=t.counts.summary(),
    )
