"""Entry points for the platform's triggers and attendance events (JetStream)."""

from __future__ import annotations

from nats.aio.msg import Msg
from trainvite.events.v1 import events_pb2

from services.common.attendance import KINDS, ensure_possible_now
from services.common.errors import DomainError
from services.common.messaging import decoding
from services.common.messaging.consumer import MessageHandler, PoisonMessage
from services.common.messaging.topology import Topology
from services.personalizer.service_layer import drafting, gaps
from services.personalizer.service_layer.dependencies import Dependencies

_ATTENDANCE = {
    events_pb2.ATTENDANCE_KIND_REGISTERED: "registered",
    events_pb2.ATTENDANCE_KIND_ATTENDED: "attended",
    events_pb2.ATTENDANCE_KIND_NO_SHOW: "no_show",
    events_pb2.ATTENDANCE_KIND_CANCELLED: "cancelled",
}
assert set(_ATTENDANCE.values()) == KINDS


def trigger_handler(deps: Dependencies, topology: Topology) -> MessageHandler:
    """Feature released, low adoption, onboarding scheduled: each makes batches for review."""

    async def handle(msg: Msg) -> None:
        try:
            if msg.subject == topology.platform_trigger("feature_released"):
                released, event_id = decoding.parse_event(events_pb2.FeatureReleased, msg.data)
                decoding.require(released, "feature")
                await drafting.on_feature_released(
                    deps, event_id, released.feature, list(released.customer_ids)
                )
            elif msg.subject == topology.platform_trigger("low_adoption"):
                low, event_id = decoding.parse_event(events_pb2.LowAdoptionDetected, msg.data)
                decoding.require(low, "customer_id", "feature")
                await drafting.on_low_adoption(deps, event_id, low.customer_id, low.feature)
            elif msg.subject == topology.platform_trigger("onboarding_scheduled"):
                onboarding, event_id = decoding.parse_event(
                    events_pb2.OnboardingScheduled, msg.data
                )
                decoding.require(onboarding, "customer_id", "stakeholder_ids")
                await drafting.on_onboarding_scheduled(
                    deps,
                    event_id,
                    onboarding.customer_id,
                    list(onboarding.stakeholder_ids),
                    onboarding.training_session,
                )
            else:
                raise PoisonMessage(f"no trigger is published on {msg.subject}")
        except DomainError as exc:
            # A trigger naming a session or customer that does not exist can never succeed.
            raise PoisonMessage(f"{type(exc).__name__}: {exc}") from exc

    return handle


def attendance_handler(deps: Dependencies) -> MessageHandler:
    """Keep registrations and attendance in each person's training history."""

    async def handle(msg: Msg) -> None:
        event, event_id = decoding.parse_event(events_pb2.AttendanceRecorded, msg.data)
        kind = _ATTENDANCE.get(event.kind)
        if kind is None:
            raise PoisonMessage(
                f"kind: is required, not {events_pb2.AttendanceKind.Name(event.kind)}"
            )
        email = decoding.require_email(event, "email")
        decoding.require(event, "training_session")
        try:
            session = await deps.catalog.get(event.training_session, allow_cancelled=True)
            # A fact that cannot be true yet would close the person's gaps ahead of time.
            ensure_possible_now(kind, session.start_time, deps.clock())
        except DomainError as exc:
            raise PoisonMessage(f"{type(exc).__name__}: {exc}") from exc
        await gaps.record_attendance(deps, event_id, session, email, kind)

    return handle


def suppression_handler(deps: Dependencies) -> MessageHandler:
    """Mirror the dispatcher's suppressed addresses, so that drafting leaves them out."""

    async def handle(msg: Msg) -> None:
        event, _ = decoding.parse_event(events_pb2.AddressSuppressed, msg.data)
        email = decoding.require_email(event, "email")
        async with deps.uow() as uow:
            await uow.suppressions.add(email, event.reason)
            await uow.commit()

    return handle
