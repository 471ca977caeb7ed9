"""The events the personalizer publishes, recorded by the invitation batch that caused them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.common.domain import Event

if TYPE_CHECKING:
    from services.personalizer.domain.model import Angle, Content, Purpose, Recipient, Sender


@dataclass(frozen=True, kw_only=True)
class InvitationApproved(Event):
    """One invitation approved: what the dispatcher sends, frozen at the approval."""

    invitation: str  # the draft's resource name
    batch: str
    customer_id: str
    training_session: str
    recipient: Recipient
    sender: Sender
    content: Content
    content_sha256: str
    angle: Angle
    approved_by: str
    approved_at: dt.datetime
    purpose: Purpose
    send_after: dt.datetime | None = None
    # The CSM's reason for messaging the person again within the frequency cap's window.
    contact_budget_override: str = ""


@dataclass(frozen=True, kw_only=True)
class DraftsReady(Event):
    """A batch the personalizer made on its own (a trigger, a session change) waits for its
    CSM's review."""

    batch: str
    customer_id: str
    csm_email: str
    trigger: str
    draft_count: int
