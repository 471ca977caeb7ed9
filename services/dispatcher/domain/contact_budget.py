"""One invitation per person within the frequency cap's window, across every batch, checked once
more just before a send. No I/O here.

The personalizer checks the budget when it drafts and when the CSM approves; two batches
approved before either was sent, or an approval replayed late, can still reach the dispatcher
with two invitations for one person, so the last word is at send time. What counts is another
invitation to the same address (case-insensitive) that went out within the window, or whose
attempt began within it and may have gone out. Notices and confirmations answer the person's
own registration and never spend the budget or wait for it. An invitation the CSM approved with
an override is sent whatever the budget says, and does not count against the person's other
invitations either: the CSM overrode the budget knowing of them, and which of the two goes first
must not decide whether both go.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from services.dispatcher.domain.model import Delivery, DeliveryState, MessagePurpose


@dataclass(frozen=True)
class OtherInvitation:
    """Another invitation delivery to the same address, as the check reads it."""

    training_session: str
    subject: str
    state: DeliveryState
    sent_at: dt.datetime | None
    outcome_unknown: bool
    attempted_at: dt.datetime | None
    overridden: bool = False

    def reached_since(self, since: dt.datetime) -> dt.datetime | None:
        """When it went out, or may have (an attempt whose answer never came), if since then
        and it spends the budget."""
        if self.overridden:
            return None
        if self.state is DeliveryState.SENT and self.sent_at is not None:
            return self.sent_at if self.sent_at >= since else None
        in_flight = self.state is DeliveryState.PENDING and self.outcome_unknown
        if in_flight and self.attempted_at is not None and self.attempted_at >= since:
            return self.attempted_at
        return None


@dataclass(frozen=True)
class ContactBudget:
    """The frequency cap's window in days; 0 turns the send-time check off."""

    window_days: int = 14

    def applies_to(self, delivery: Delivery) -> bool:
        """Whether the delivery must fit the budget before it is sent.

        A delivery whose own attempt may have gone out fitted it when that attempt began: only
        settling it says whether it was sent, and holding it now would record as unsent a
        message that may be in the person's mailbox.
        """
        approved = delivery.approved
        return (
            self.window_days > 0
            and approved.purpose is MessagePurpose.INVITATION
            and not approved.contact_budget_override
            and not delivery.outcome_unknown
        )

    def window_start(self, now: dt.datetime) -> dt.datetime:
        return now - dt.timedelta(days=self.window_days)

    def spent(
        self, delivery: Delivery, others: Iterable[OtherInvitation], now: dt.datetime
    ) -> str | None:
        """Why the delivery must not be sent, in words a CSM reads on the batch, when another
        invitation to the person counts within the window; None when it may be sent."""
        if not self.applies_to(delivery):
            return None
        since = self.window_start(now)
        reached = [(at, o) for o in others if (at := o.reached_since(since)) is not None]
        if not reached:
            return None
        at, latest = max(reached, key=lambda pair: pair[0])
        what = f'"{latest.subject}"' if latest.subject else latest.training_session
        return (
            f"contact budget: invited to {what} on {at.astimezone(dt.UTC):%Y-%m-%d} "
            f"(one training message per {self.window_days} days)"
        )
