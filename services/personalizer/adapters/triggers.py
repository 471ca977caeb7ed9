"""Entry points for the platform's triggers and attendance events (JetStream)."""

from __future__ import annotations

import uuid
from typing import TypeVar

from google.protobuf.message import DecodeError, Message
from nats.aio.msg import Msg
from trainvite.events.v1 import events_pb2

from services.common.attendance import KINDS
from services.common.errors import DomainError
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


M = TypeVar("M", bound=Message)


def _parse(kind: type[M], data: bytes) -> tuple[M, uuid.UUID]:
    try:
        event = kind.FromString(data)
        return event, uuid.UUID(getattr(event, "event_id"))  # noqa: B009 - every event has one
    except (DecodeError, ValueError) as exc:
        raise PoisonMessage(f"not a {kind.__name__} with a uuid event_id: {exc}") from exc


def trigger_handler(deps: Dependencies, topology: Topology) -> MessageHandler:
    """Feature released, low adoption, onboarding scheduled: each makes batches for review."""

    async def handle(msg: Msg) -> None:
        try:
            if msg.subject == topology.platform_trigger("feature_released"):
                released, event_id = _parse(events_pb2.FeatureReleased, msg.data)
                if not released.feature:
                    raise PoisonMessage("feature is missing")
                await drafting.on_feature_released(
                    deps, event_id, released.feature, list(released.customer_ids)
                )
            elif msg.subject == topology.platform_trigger("low_adoption"):
                low, event_id = _parse(events_pb2.LowAdoptionDetected, msg.data)
                if not low.customer_id or not low.feature:
                    raise PoisonMessage("customer_id and feature are required")
                await drafting.on_low_adoption(deps, event_id, low.customer_id, low.feature)
            elif msg.subject == topology.platform_trigger("onboarding_scheduled"):
                onboarding, event_id = _parse(events_pb2.OnboardingScheduled, msg.data)
                if not onboarding.customer_id or not onboarding.stakeholder_ids:
                    raise PoisonMessage("customer_id and stakeholder_ids are required")
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
        event, event_id = _parse(events_pb2.AttendanceRecorded, msg.data)
        kind = _ATTENDANCE.get(event.kind)
        if kind is None or "@" not in event.email:
            raise PoisonMessage("kind and email are required")
        try:
            session = await deps.catalog.get(event.training_session, allow_cancelled=True)
        except DomainError as exc:
            raise PoisonMessage(f"{type(exc).__name__}: {exc}") from exc
        await gaps.record_attendance(deps, event_id, session, event.email, kind)

    return handle


def suppression_handler(deps: Dependencies) -> MessageHandler:
    """Mirror the dispatcher's suppressed addresses, so that drafting leaves them out."""

    async def handle(msg: Msg) -> None:
        event, _ = _parse(events_pb2.AddressSuppressed, msg.data)
        if "@" not in event.email:
            raise PoisonMessage("email is missing or not an address")
        async with deps.uow() as uow:
            await uow.suppressions.add(event.email, event.reason)
            await uow.commit()

    return handle
