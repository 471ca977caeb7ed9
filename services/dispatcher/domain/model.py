"""Deliveries: one approved invitation on its way to one person. No I/O here."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass, field


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class ApprovedInvitation:
    """What the CSM approved, exactly as it must be sent."""

    invitation: str
    batch: str
    customer_id: str
    training_session: str
    recipient_email: str
    recipient_name: str
    sender_email: str
    sender_name: str
    subject: str
    text_body: str
    html_body: str
    calendar_ics: str
    content_sha256: str
    approved_by: str
    approved_at: dt.datetime
    send_after: dt.datetime


def new_message_id(delivery_id: uuid.UUID, sender_email: str) -> str:
    """An RFC 5322 Message-ID under the sender's domain."""
    domain = sender_email.rpartition("@")[2] or "trainvite.invalid"
    return f"<{delivery_id}@{domain}>"


@dataclass(frozen=True)
class AddressSuppressed:
    """Domain event: an address must never be emailed again."""

    event_id: uuid.UUID
    email: str
    reason: str


@dataclass(frozen=True)
class DeliveryOutcome:
    """Domain event: what happened to one delivery."""

    event_id: uuid.UUID
    invitation: str
    batch: str
    state: DeliveryState
    message_id: str
    provider_message_id: str
    detail: str


@dataclass
class Delivery:
    id: uuid.UUID
    approved: ApprovedInvitation
    message_id: str
    state: DeliveryState = DeliveryState.PENDING
    detail: str = ""
    provider_message_id: str = ""
    attempts: int = 0
    sent_at: dt.datetime | None = None
    # A send was attempted and its result is not known: look it up before sending again.
    outcome_unknown: bool = False
    attempted_at: dt.datetime | None = None
    # Where the sender's mailbox history stood before the first attempt: an unknown outcome is
    # settled from the history after it.
    history_id: str | None = None
    # The claim this worker holds on the delivery, if any.
    claim_token: uuid.UUID | None = None
    events: list[DeliveryOutcome] = field(default_factory=list)

    @classmethod
    def accept(cls, approved: ApprovedInvitation) -> Delivery:
        """A new delivery for an approved invitation, its Message-ID fixed now."""
        delivery_id = uuid.uuid4()
        return cls(delivery_id, approved, new_message_id(delivery_id, approved.sender_email))

    def _record(self) -> None:
        self.events.append(
            DeliveryOutcome(
                uuid.uuid4(),
                self.approved.invitation,
                self.approved.batch,
                self.state,
                self.message_id,
                self.provider_message_id,
                self.detail,
            )
        )

    def mark_sent(self, provider_message_id: str, at: dt.datetime) -> None:
        self.outcome_unknown = False
        self.state = DeliveryState.SENT
        self.provider_message_id = provider_message_id
        self.sent_at = at
        self._record()

    def mark_failed(self, reason: str) -> None:
        self.state = DeliveryState.FAILED
        self.detail = reason
        self._record()

    def mark_cancelled(self, by: str) -> None:
        self.state = DeliveryState.CANCELLED
        self.detail = f"cancelled by {by}"
        self._record()

    def mark_suppressed(self, reason: str) -> None:
        self.state = DeliveryState.SUPPRESSED
        self.detail = reason
        self._record()
