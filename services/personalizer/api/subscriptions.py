"""The personalizer's NATS entry points: for each subject it consumes, a decoder and its use
case. A decoder turns the payload into what the use case takes, or raises PoisonMessage saying
which field can never be processed."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

from trainvite.catalog.v1 import catalog_pb2
from trainvite.events.v1 import events_pb2

from services.common.errors import InvalidArgument
from services.common.messaging import decoders, decoding
from services.common.messaging.consumer import MessageHandler, PoisonMessage
from services.common.messaging.inbound import Route, by_subject
from services.common.messaging.topology import ConsumerSpec, Topology
from services.common.time_zones import is_time_zone
from services.personalizer.adapters.catalog_client import session_info
from services.personalizer.api.convert import DELIVERY_STATE_FROM_PB
from services.personalizer.domain import names
from services.personalizer.domain.facts import (
    AddressSuppressed,
    DeliveryOutcome,
    FeatureReleased,
    LowAdoptionDetected,
    OnboardingScheduled,
    RegistrationMove,
)
from services.personalizer.domain.model import DeliveryState, Notice, Purpose
from services.personalizer.service_layer import (
    confirmations,
    deliveries,
    gaps,
    notices,
    triggers,
)
from services.personalizer.service_layer.dependencies import Dependencies

T = TypeVar("T")

_PURPOSE = {
    events_pb2.SESSION_CHANGE_KIND_RESCHEDULED: Purpose.RESCHEDULED,
    events_pb2.SESSION_CHANGE_KIND_CANCELLED: Purpose.CANCELLED,
    events_pb2.SESSION_CHANGE_KIND_UPDATED: Purpose.UPDATED,
}

# The catalog's registration states in its own words ("" for none before).
_REGISTRATION_STATE = {
    catalog_pb2.REGISTRATION_STATE_UNSPECIFIED: "",
    catalog_pb2.REGISTRATION_STATE_REGISTERED: "registered",
    catalog_pb2.REGISTRATION_STATE_WAITLISTED: "waitlisted",
    catalog_pb2.REGISTRATION_STATE_CANCELLED: "cancelled",
    catalog_pb2.REGISTRATION_STATE_ATTENDED: "attended",
    catalog_pb2.REGISTRATION_STATE_NO_SHOW: "no_show",
}


def _name(parse: Callable[[str, str], T], value: str, field: str) -> T:
    """A resource name parsed by `names`; one that is not a name can never be processed."""
    try:
        return parse(value, field)
    except InvalidArgument as exc:
        raise PoisonMessage(f"{exc} (not {value[:80]!r})") from exc


def delivery_outcome(data: bytes) -> DeliveryOutcome:
    event, event_id = decoding.parse_event(events_pb2.DeliveryOutcome, data)
    state = DELIVERY_STATE_FROM_PB.get(event.state)
    if state is None or state is DeliveryState.NOT_SENT:
        raise PoisonMessage(f"state: {event.state} is not an outcome of a delivery")
    _, _, draft_id = _name(names.draft_id, event.invitation, "invitation")
    if not event.HasField("occur_time"):
        raise PoisonMessage("occur_time: is required")
    return DeliveryOutcome(
        event_id, draft_id, state, event.detail, decoding.utc_time(event.occur_time)
    )


def session_changed(data: bytes) -> Notice:
    event, event_id = decoding.parse_event(events_pb2.TrainingSessionChanged, data)
    purpose = _PURPOSE.get(event.kind)
    if purpose is None:
        raise PoisonMessage(f"kind: is required, not {event.kind}")
    session = event.training_session
    _name(names.session_name, session.name, "training_session.name")
    if not session.HasField("start_time"):
        raise PoisonMessage("training_session.start_time: is required")
    # Notices are rendered in these zones: an unknown one would fail on every delivery.
    for path in ("training_session.time_zone", "previous_time_zone"):
        zone = decoding.field_value(event, path)
        if (zone or path == "training_session.time_zone") and not is_time_zone(zone):
            raise PoisonMessage(f"{path}: {zone[:80]!r} is not an IANA time zone")
    return Notice(
        event_id=event_id,
        purpose=purpose,
        session=session_info(session),
        previous_start_time=(
            event.previous_start_time.ToDatetime(tzinfo=dt.UTC)
            if event.HasField("previous_start_time")
            else None
        ),
        previous_time_zone=event.previous_time_zone,
        reason=event.reason,
        changed_by=event.changed_by,
    )


def registration_changed(data: bytes) -> RegistrationMove:
    event, event_id = decoding.parse_event(events_pb2.RegistrationChanged, data)
    _name(names.session_name, event.training_session, "training_session")
    email = decoding.require_email(event, "email")
    state = _REGISTRATION_STATE.get(event.state)
    if not state:
        raise PoisonMessage(f"state: {event.state} is not a registration state")
    previous_state = _REGISTRATION_STATE.get(event.previous_state)
    if previous_state is None:
        raise PoisonMessage(f"previous_state: {event.previous_state} is not a registration state")
    if event.waitlist_position < 0:
        raise PoisonMessage(f"waitlist_position: {event.waitlist_position} is below zero")
    if event.invitation:
        _name(names.draft_id, event.invitation, "invitation")
    return RegistrationMove(
        event_id=event_id,
        training_session=event.training_session,
        email=email,
        state=state,
        previous_state=previous_state,
        waitlist_position=event.waitlist_position,
        invitation=event.invitation,
    )


def feature_released(data: bytes) -> FeatureReleased:
    event, event_id = decoding.parse_event(events_pb2.FeatureReleased, data)
    decoding.require(event, "feature")
    return FeatureReleased(event_id, event.feature, tuple(event.customer_ids))


def low_adoption_detected(data: bytes) -> LowAdoptionDetected:
    event, event_id = decoding.parse_event(events_pb2.LowAdoptionDetected, data)
    decoding.require(event, "customer_id", "feature")
    return LowAdoptionDetected(event_id, event.customer_id, event.feature)


def onboarding_scheduled(data: bytes) -> OnboardingScheduled:
    event, event_id = decoding.parse_event(events_pb2.OnboardingScheduled, data)
    decoding.require(event, "customer_id", "stakeholder_ids")
    return OnboardingScheduled(
        event_id, event.customer_id, tuple(event.stakeholder_ids), event.training_session
    )


def address_suppressed(data: bytes) -> AddressSuppressed:
    event, event_id = decoding.parse_event(events_pb2.AddressSuppressed, data)
    email = decoding.require_email(event, "email")
    return AddressSuppressed(event_id, email, event.reason)


def subscriptions(
    deps: Dependencies, topology: Topology
) -> list[tuple[ConsumerSpec, MessageHandler]]:
    """Each consumer of the personalizer with the handler of its subjects."""

    def route(
        decode: Callable[[bytes], T], use_case: Callable[[Dependencies, T], Awaitable[object]]
    ) -> Route[T]:
        return Route(decode, functools.partial(use_case, deps))

    trigger = topology.platform_trigger
    return [
        (
            topology.personalizer_delivery_outcomes,
            by_subject(
                {
                    topology.delivery_outcome: route(
                        delivery_outcome, deliveries.record_delivery_outcome
                    )
                }
            ),
        ),
        (
            topology.personalizer_session_changes,
            by_subject(
                {topology.session_changed: route(session_changed, notices.notify_session_change)}
            ),
        ),
        (
            topology.personalizer_registrations,
            by_subject(
                {
                    topology.registration_changed: route(
                        registration_changed, confirmations.confirm_registration
                    )
                }
            ),
        ),
        (
            topology.personalizer_triggers,
            by_subject(
                {
                    trigger("feature_released"): route(
                        feature_released, triggers.on_feature_released
                    ),
                    trigger("low_adoption"): route(low_adoption_detected, triggers.on_low_adoption),
                    trigger("onboarding_scheduled"): route(
                        onboarding_scheduled, triggers.on_onboarding_scheduled
                    ),
                }
            ),
        ),
        (
            topology.personalizer_attendance,
            by_subject(
                {
                    topology.attendance_recorded: route(
                        decoders.attendance_recorded, gaps.record_attendance
                    )
                }
            ),
        ),
        (
            topology.personalizer_suppressions,
            by_subject(
                {
                    topology.address_suppressed: route(
                        address_suppressed, deliveries.record_suppression
                    )
                }
            ),
        ),
    ]
