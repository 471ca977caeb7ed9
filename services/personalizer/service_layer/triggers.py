"""The platform's triggers: a feature released, low adoption, onboarding scheduled. Each makes
batches for the CSM's review, announced with DraftsReady.

A trigger is applied once by the uniqueness of its batches' source event per customer, not by
`first_time`: a feature release makes one batch per entitled customer, each in a transaction of
its own (the catalog and the renderer are not held up by one long transaction), so a redelivery
after a failure half way must still make the batches that are missing, and only those.
"""

from __future__ import annotations

from services.personalizer.domain.facts import (
    FeatureReleased,
    LowAdoptionDetected,
    OnboardingScheduled,
)
from services.personalizer.domain.model import Angle, Customer, SessionInfo
from services.personalizer.service_layer.dependencies import Dependencies
from services.personalizer.service_layer.drafting import Selection, compose_batch


async def _customer(deps: Dependencies, customer_id: str) -> Customer | None:
    async with deps.uow() as uow:
        return await uow.platform.customer(customer_id)


async def on_feature_released(deps: Dependencies, event: FeatureReleased) -> int:
    """Invite those who would use a newly released feature, per entitled customer."""
    sessions = await deps.catalog.upcoming(feature=event.feature, limit=1)
    if not sessions:
        return 0
    async with deps.uow() as uow:
        entitled = await uow.platform.customers_entitled_to(event.feature, list(event.customer_ids))
    made = 0
    for customer_id in entitled:
        customer = await _customer(deps, customer_id)
        if customer is not None:
            await compose_batch(
                deps,
                customer,
                sessions[0],
                "trigger:feature_released",
                Selection(angle=Angle.NEW_FEATURE),
                source_event_id=event.event_id,
                trigger="feature_released",
            )
            made += 1
    return made


async def on_low_adoption(deps: Dependencies, event: LowAdoptionDetected) -> int:
    """Invite the customer's people with a gap on the feature to the next session on it."""
    customer = await _customer(deps, event.customer_id)
    if customer is None:
        return 0
    # A gap is closed by the basics: the next beginner session on the feature, else the next
    # intermediate one, else any.
    session: SessionInfo | None = None
    for level in ("beginner", "intermediate", ""):
        found = await deps.catalog.upcoming(feature=event.feature, level=level, limit=1)
        if found:
            session = found[0]
            break
    if session is None:
        return 0
    await compose_batch(
        deps,
        customer,
        session,
        "trigger:low_adoption",
        Selection(angle=Angle.CLOSE_GAP, require_gap_on=event.feature),
        source_event_id=event.event_id,
        trigger="low_adoption",
    )
    return 1


async def on_onboarding_scheduled(deps: Dependencies, event: OnboardingScheduled) -> int:
    """Invite new users to their onboarding session (or the next beginner session)."""
    customer = await _customer(deps, event.customer_id)
    if customer is None or not event.stakeholder_ids:
        return 0
    if event.training_session:
        session = await deps.catalog.get(event.training_session)
    else:
        beginner = await deps.catalog.upcoming(level="beginner", limit=1)
        if not beginner:
            return 0
        session = beginner[0]
    await compose_batch(
        deps,
        customer,
        session,
        "trigger:onboarding_scheduled",
        Selection(only=frozenset(event.stakeholder_ids), angle=Angle.ONBOARDING),
        source_event_id=event.event_id,
        trigger="onboarding_scheduled",
    )
    return 1
