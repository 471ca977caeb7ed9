"""Entry point for the dispatcher's delivery outcomes (JetStream): decode, apply, ack."""

from __future__ import annotations

from nats.aio.msg import Msg
from trainvite.events.v1 import events_pb2

from services.common.errors import InvalidArgument
from services.common.messaging import decoding
from services.common.messaging.consumer import MessageHandler, PoisonMessage
from services.personalizer.api.convert import DELIVERY_STATE_FROM_PB
from services.personalizer.domain.model import DeliveryState
from services.personalizer.service_layer import review
from services.personalizer.service_layer.dependencies import Dependencies


def delivery_outcome_handler(deps: Dependencies) -> MessageHandler:
    """A consumer handler that shows each outcome on its draft, once."""

    async def handle(msg: Msg) -> None:
        event, event_id = decoding.parse_event(events_pb2.DeliveryOutcome, msg.data)
        state = DELIVERY_STATE_FROM_PB.get(event.state)
        if state is None or state is DeliveryState.NOT_SENT:
            raise PoisonMessage(f"state: {event.state} is not an outcome of a delivery")
        try:
            await review.record_delivery_outcome(
                deps, event_id, event.invitation, state, event.detail
            )
        except InvalidArgument as exc:
            raise PoisonMessage(str(exc)) from exc

    return handle
