"""What other services tell the personalizer, as its use cases take it (decoded in
api/subscriptions.py). A session change is a `model.Notice`; attendance is the shared
`services.common.attendance.AttendanceFact`."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from services.personalizer.domain.model import ConfirmationKind, DeliveryState


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
    # When it happened: for SENT, when the provider took the message.
    occurred_at: dt.datetime


@dataclass(frozen=True)
class AddressSuppressed:
    event_id: uuid.UUID
    email: str
    reason: str


@dataclass(frozen=True)
class RegistrationMove:
    """One person's registration for a session moved (from the catalog). `state` and
    `previous_state` are the catalog's words ("registered", "waitlisted", ...; "" for none);
    `invitation` is the draft the person came through, "" when they registered otherwise."""

    event_id: uuid.UUID
    training_session: str
    email: str
    state: str
    previous_state: str
    waitlist_position: int
    invitation: str

    @property
    def confirmation(self) -> ConfirmationKind | None:
        """What the person is told of this move, if anything. Only moves the person caused or
        waits for are answered: a cancellation is their own and needs no reply, attended and
        no-show come after the session, and someone registered without an invitation has no
        CSM to write from."""
        if not self.invitation:
            return None
        if self.state == "registered":
            if self.previous_state == "waitlisted":
                return ConfirmationKind.PROMOTED
            return ConfirmationKind.REGISTERED
        if self.state == "waitlisted":
            return ConfirmationKind.WAITLISTED
        return None
