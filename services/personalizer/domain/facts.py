"""What other services tell the personalizer, as its use cases take it (decoded in
api/subscriptions.py). A session change is a `model.Notice`; attendance is the shared
`services.common.attendance.AttendanceFact`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.personalizer.domain.model import DeliveryState


@dataclass(frozen=True)
class FeatureReleased:
    event_id: uuid.UUID
    feature: str
    # Empty: every customer entitled to the feature.
    customer_ids: tuple[str, ...]


@dataclass(frozen=True)
class LowAdoptionDetected:
    event_id: uuid.UUID
    customer_id: str
    feature: str


@dataclass(frozen=True)
class OnboardingScheduled:
    event_id: uuid.UUID
    customer_id: str
    stakeholder_ids: tuple[str, ...]
    # Empty: the next beginner session.
    training_session: str


@dataclass(frozen=True)
class DeliveryOutcome:
    """What became of one approved invitation at the dispatcher."""

    event_id: uuid.UUID
    draft_id: uuid.UUID
    state: DeliveryState
    detail: str


@dataclass(frozen=True)
class AddressSuppressed:
    event_id: uuid.UUID
    email: str
    reason: str
