"""Deliveries, one approved invitation on its way to one person, and the addresses never to be
emailed. No I/O here.

A delivery's life: pending (claimed by one worker at a time, possibly tried several times) and
then, for good, sent, failed, suppressed or cancelled. While pending, an attempt whose answer
never came leaves its outcome unknown: the message may be in the mailbox, so the delivery is
looked up before it may be sent again. Each change is one method below, refused when the
delivery is not in a state that allows it, and a delivery that reaches its end records the
DeliveryOutcome the personalizer shows.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass

from services.common.domain import Aggregate
from services.common.errors import FailedPrecondition
from services.dispatcher.domain.events import AddressSuppressed, DeliveryOutcome


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"


class IllegalTransition(FailedPrecondition):
    """The delivery is not in a state that allows the change: a bug in the caller, never a
    reason to send."""


class MessagePurpose(enum.StrEnum):
    """What an approved message is for; only invitations are tracked after the send."""

    INVITATION = "invitation"
    NOTICE = "notice"
    CONFIRMATION = "confirmation"


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
    purpose: MessagePurpose = MessagePurpose.INVITATION
    # The CSM's reason for inviting someone invited within the frequency cap's window; empty:
    # the cap holds at send time.
    contact_budget_override: str = ""


def new_message_id(delivery_id: uuid.UUID, sender_email: str) -> str:
    """An RFC 5322 Message-ID under the sender's domain."""
    domain = sender_email.rpartition("@")[2] or "trainvite.invalid"
    return f"<{delivery_id}@{domain}>"


_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass
class Delivery(Aggregate):
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
    # The claim of the worker holding the delivery, if any: only that worker may act on it.
    claim_token: uuid.UUID | None = None

    @classmethod
    def accept(cls, approved: ApprovedInvitation, delivery_id: uuid.UUID) -> Delivery:
        """A new delivery for an approved invitation, its Message-ID fixed now so that every
        attempt can be recognised at the provider."""
        return cls(delivery_id, approved, new_message_id(delivery_id, approved.sender_email))

    @property
    def unsent(self) -> bool:
        """Pending, and no attempt may have reached the provider."""
        return self.state is DeliveryState.PENDING and not self.outcome_unknown

    def settles_at(self, settle: dt.timedelta) -> dt.datetime:
        """From when a lookup that finds nothing means the last attempt was not accepted: a
        request that timed out on our side may still be finishing at the provider until then."""
        return (self.attempted_at or _NEVER) + settle

    def begin_attempt(self, at: dt.datetime, history_id: str | None) -> None:
        """The provider is about to be called: until its answer is recorded the outcome is
        unknown. Refused while an earlier attempt is unknown, so nothing is ever resent blind."""
        self._require(self.claim_token is not None, "be sent unclaimed")
        self._require(self.unsent, "be sent again before the last attempt is settled")
        self.outcome_unknown = True
        self.attempted_at = at
        if self.history_id is None:  # the first attempt's position covers every later one
            self.history_id = history_id

    def refused(self) -> None:
        """The provider answered that it did not take the message: the outcome is known again."""
        self._require(self._attempting, "be refused with no attempt under way")
        self.outcome_unknown = False

    def not_found(self, now: dt.datetime, settle: dt.timedelta) -> None:
        """The lookup found nothing once the attempt had settled: it was not sent."""
        self._require(self._attempting, "be settled with no attempt under way")
        self._require(now >= self.settles_at(settle), "be settled before its settle time")
        self.outcome_unknown = False

    def mark_sent(self, provider_message_id: str, at: dt.datetime) -> None:
        self._require(self.state is DeliveryState.PENDING, "be marked sent")
        self.outcome_unknown = False
        self.state = DeliveryState.SENT
        self.provider_message_id = provider_message_id
        self.sent_at = at
        self._finished()

    def mark_failed(self, reason: str) -> None:
        """Refused for good by the provider."""
        self._require(self.state is DeliveryState.PENDING, "fail")
        self.outcome_unknown = False
        self.state = DeliveryState.FAILED
        self.detail = reason
        self._finished()

    def bounced(self, reason: str) -> None:
        """Sent, then reported undeliverable by the recipient's server."""
        self._require(self.state is DeliveryState.SENT, "bounce")
        self.state = DeliveryState.FAILED
        self.detail = reason
        self.claim_token = None  # an ended delivery is nobody's claim
        self._finished()

    def mark_suppressed(self, reason: str) -> None:
        """Never to be sent: the address was suppressed after the invitation was approved."""
        self._require(self.state is DeliveryState.PENDING, "be suppressed")
        self.outcome_unknown = False
        self.state = DeliveryState.SUPPRESSED
        self.detail = reason
        self._finished()

    def cancel(self, by: str) -> None:
        """Only an unsent delivery: a sent one (or one that may be) is never recalled."""
        self._require(self.unsent, "be cancelled")
        self.state = DeliveryState.CANCELLED
        self.detail = f"cancelled by {by}"
        self._finished()

    @property
    def _attempting(self) -> bool:
        return self.state is DeliveryState.PENDING and self.outcome_unknown

    def _require(self, allowed: bool, change: str) -> None:
        if not allowed:
            unknown = ", its last attempt unknown" if self.outcome_unknown else ""
            raise IllegalTransition(f"a {self.state} delivery{unknown} cannot {change}")

    def _finished(self) -> None:
        self.record(
            DeliveryOutcome(
                invitation=self.approved.invitation,
                batch=self.approved.batch,
                state=self.state,
                message_id=self.message_id,
                provider_message_id=self.provider_message_id,
                detail=self.detail,
            )
        )


@dataclass
class Address(Aggregate):
    """An address the dispatcher emails, and whether it must never be emailed again."""

    email: str
    suppressed_reason: str | None = None

    def __post_init__(self) -> None:
        self.email = self.email.lower()

    @property
    def suppressed(self) -> bool:
        return self.suppressed_reason is not None

    def suppress(self, reason: str) -> None:
        """Suppressed for good; the first reason stands, and only the first time is told."""
        if self.suppressed_reason is not None:
            return
        self.suppressed_reason = reason
        self.record(AddressSuppressed(email=self.email, reason=reason))
