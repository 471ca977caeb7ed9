"""The events the dispatcher publishes; each is recorded by the aggregate whose change it tells."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.common.domain import Event

if TYPE_CHECKING:
    from services.dispatcher.domain.model import DeliveryState


@dataclass(frozen=True, kw_only=True)
class DeliveryOutcome(Event):
    """What became of one delivery: sent, failed, suppressed or cancelled."""

    invitation: str
    batch: str
    state: DeliveryState
    message_id: str
    provider_message_id: str
    detail: str


@dataclass(frozen=True, kw_only=True)
class AddressSuppressed(Event):
    """An address must never be emailed again."""

    email: str
    reason: str
