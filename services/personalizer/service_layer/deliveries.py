"""What the dispatcher reports back: delivery outcomes and addresses never to email again."""

from __future__ import annotations

from services.personalizer.domain.facts import AddressSuppressed, DeliveryOutcome
from services.personalizer.service_layer.dependencies import Dependencies


async def record_delivery_outcome(deps: Dependencies, outcome: DeliveryOutcome) -> bool:
    """Show a delivery outcome on its draft; False when the event was applied before."""
    async with deps.uow() as uow:
        if not await uow.first_time(outcome.event_id):
            return False
        await uow.batches.show_delivery(
            outcome.draft_id, outcome.state, outcome.detail, outcome.occurred_at
        )
        await uow.commit()
    return True


async def record_suppression(deps: Dependencies, suppressed: AddressSuppressed) -> bool:
    """Mirror a suppressed address, so that drafting leaves it out; False when the event was
    applied before."""
    async with deps.uow() as uow:
        if not await uow.first_time(suppressed.event_id):
            return False
        await uow.suppressions.add(suppressed.email, suppressed.reason)
        await uow.commit()
    return True
