"""What other services tell the dispatcher, as its use cases take it (decoded in
api/subscriptions.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.dispatcher.domain.model import ApprovedInvitation


@dataclass(frozen=True)
class InvitationApproved:
    """An incoming approval: the invitation, and the id of the event that brought it."""

    event_id: uuid.UUID
    approved: ApprovedInvitation
