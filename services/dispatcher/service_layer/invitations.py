"""Approved invitations arriving from the personalizer."""

from __future__ import annotations

from services.dispatcher.domain.facts import InvitationApproved
from services.dispatcher.domain.model import Delivery
from services.dispatcher.service_layer.dependencies import Dependencies


async def accept_invitation(deps: Dependencies, approval: InvitationApproved) -> bool:
    """Store one delivery per approved invitation; False when the event was applied before or
    the invitation has its delivery already (approved again under another event)."""
    async with deps.uow() as uow:
        if not await uow.first_time(approval.event_id):
            return False
        added = await uow.deliveries.add(Delivery.accept(approval.approved, deps.new_id()))
        await uow.commit()
    return added
